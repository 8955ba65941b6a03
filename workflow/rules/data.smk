# Datasets the DAG makes itself (shapes, the transfer stand-ins) or downloads (cifar profile only),
# and the check of every set's images. External data (ImageNet, the paper's transfer sets) is read
# where the config points.


rule shapes_data:
    conda:
        ENVIRONMENT
    output:
        directory(config["data"]["pretrain"]["root"]),
    params:
        args=" ".join(f"--{k.replace('_', '-')} {v}" for k, v in config["data"].get("shapes", {}).items()),
    log:
        f"{OUT}/logs/shapes_data.log",
    shell:
        "python -m ssl_core.datasets.shapes --out {output} {params.args} > {log} 2>&1"


if DOWNLOADS:

    rule download_data:
        """One dataset through torchvision, once, before any job reads it (the cifar profile: its
        pretraining set and every transfer set it reads)."""
        conda:
            ENVIRONMENT
        output:
            downloaded_marker("{dataset}"),
        wildcard_constraints:
            dataset="|".join(DOWNLOADS),
        params:
            root=lambda w: DOWNLOADS[w.dataset],
        log:
            f"{OUT}/logs/download_data/{{dataset}}.log",
        shell:
            "python -m evaluations download --dataset {wildcards.dataset} --root {params.root} --out {output} > {log} 2>&1"


# Every image of a data set is decoded once, before any job reads it: a corrupt file fails here,
# naming every bad file, not mid-training (ssl_core.datasets.check; cached on the file list).
# The pretraining check also counts the class folders (data.check.pretrain_classes) and, at ImageNet's
# scale, decodes a seeded sample (data.check.sample); it has its own resources (cluster.check).
rule check_pretrain_images:
    conda:
        ENVIRONMENT
    input:
        pretrain_source,
    output:
        f"{OUT}/data/checked/pretrain.json",
    params:
        data=json.dumps(config["data"]["pretrain"], sort_keys=True),
        check=json.dumps(config["data"].get("check", {}), sort_keys=True),
    log:
        f"{OUT}/logs/check_images/pretrain.log",
    threads: max(1, config["data"].get("check", {}).get("workers", config["data"]["pretrain"]["num_workers"]))
    resources:
        **resources("check"),
    shell:
        "python -m ssl_core check-images --data {params.data:q} --check {params.check:q} --out {output} > {log} 2>&1"


rule check_transfer_images:
    conda:
        ENVIRONMENT
    input:
        transfer_source,
    output:
        f"{OUT}/data/checked/transfer/{{dataset}}.json",
    params:
        root=TRANSFER["data_root"],
        workers=TRANSFER["num_workers"],
    log:
        f"{OUT}/logs/check_images/transfer/{{dataset}}.log",
    threads: max(1, TRANSFER["num_workers"])
    resources:
        **resources("check"),
    shell:
        "python -m evaluations transfer-check --dataset {wildcards.dataset} --root {params.root} "
        "--workers {params.workers} --out {output} > {log} 2>&1"


rule transfer_standins:
    conda:
        ENVIRONMENT
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
        conda:
            ENVIRONMENT
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


if DENSE_DATA == "real":

    rule check_dense_data:
        """VOC07+12 and COCO 2017 read as the dense jobs read them (every split file, XML and
        instances JSON parsed, every image present), before any dense job (evaluations/dense/check.py)."""
        conda:
            ENVIRONMENT
        input:
            MINIATURE or [],
        output:
            f"{OUT}/data/checked/dense.json",
        params:
            data=json.dumps(config["data"]["dense"], sort_keys=True),
        log:
            f"{OUT}/logs/check_dense_data.log",
        resources:
            **resources("check"),
        shell:
            "python -m evaluations dense-check --data-json {params.data:q} --out {output} > {log} 2>&1"


if MINIATURE:

    rule miniature_data:
        """The smoke profile's data: ImageNet, the ten transfer sets, VOC07+12 and COCO 2017 in their
        real layouts, a few images each (evaluations/miniature.py); the data roots point into it."""
        conda:
            ENVIRONMENT
        output:
            directory(MINIATURE),
        log:
            f"{OUT}/logs/miniature_data.log",
        shell:
            "python -m evaluations miniature-data --out {output} > {log} 2>&1"
