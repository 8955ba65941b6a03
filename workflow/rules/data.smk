# Datasets the DAG makes itself. External data (ImageNet) is read where the config points.
SHAPES_ROOT = config["data"]["pretrain"]["root"]


def pretrain_data(wildcards):
    """The generated dataset is an input of the jobs that read it; ImageNet is not a DAG product."""
    return SHAPES_ROOT if config["data"]["pretrain"]["name"] == "shapes" else []


rule shapes_data:
    output:
        directory(SHAPES_ROOT),
    params:
        args=" ".join(f"--{k.replace('_', '-')} {v}" for k, v in config["data"].get("shapes", {}).items()),
    log:
        f"{OUT}/logs/shapes_data.log",
    shell:
        "python -m ssl_core.datasets.shapes --out {output} {params.args} > {log} 2>&1"
