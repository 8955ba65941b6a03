# Datasets the DAG makes itself (shapes) or downloads (CIFAR, cifar profile only). External data
# (ImageNet) is read where the config points.


rule shapes_data:
    output:
        directory(config["data"]["pretrain"]["root"]),
    params:
        args=" ".join(f"--{k.replace('_', '-')} {v}" for k, v in config["data"].get("shapes", {}).items()),
    log:
        f"{OUT}/logs/shapes_data.log",
    shell:
        "python -m ssl_core.datasets.shapes --out {output} {params.args} > {log} 2>&1"


if downloaded_marker(config["data"]["pretrain"]):

    rule download_data:
        """CIFAR through torchvision, once, before any job reads it (cifar profile only)."""
        output:
            str(downloaded_marker(config["data"]["pretrain"])),
        params:
            data=json.dumps(config["data"]["pretrain"], sort_keys=True),
        log:
            f"{OUT}/logs/download_data.log",
        shell:
            "python -m ssl_core download --data {params.data:q} > {log} 2>&1"


rule transfer_standins:
    output:
        directory(TRANSFER["data_root"]),
    params:
        cfg=json.dumps({"datasets": TRANSFER_GENERATED, "standins": TRANSFER.get("standins", {})}, sort_keys=True),
    log:
        f"{OUT}/logs/transfer_standins.log",
    shell:
        "python -m evaluations transfer-data --config-json {params.cfg:q} --out {output} > {log} 2>&1"



if DENSE_DATA == "shapes":

    rule dense_data:
        """The shapes as a COCO subset and a Pascal VOC tree, for Table 2 (tiny profile)."""
        input:
            config["data"]["pretrain"]["root"],
        output:
            directory(config["data"]["dense"]["root"]),
        params:
            n_train=config["data"]["dense"]["n_train"],
            n_test=config["data"]["dense"]["n_test"],
        log:
            f"{OUT}/logs/dense_data.log",
        shell:
            "python -m evaluations dense-data --shapes {input} --out {output} --n-train {params.n_train} "
            "--n-test {params.n_test} > {log} 2>&1"
