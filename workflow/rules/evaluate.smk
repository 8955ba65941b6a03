# Evaluations read only a run's backbone.pt and the dataset.


rule linear_probe:
    conda:
        ENVIRONMENT
    input:
        backbone=rules.pretrain.output.backbone,
        data=pretrain_data,
    output:
        metrics=f"{OUT}/eval/linear/{{run}}.json",
        predictions=f"{OUT}/eval/linear/{{run}}.predictions.csv.gz",
    params:
        spec=run_spec,
        cfg=lambda wc: json.dumps(linear_settings(config["eval"]["linear"], RUNS[wc.run]["method"],
                                                  RUNS[wc.run]["arch"]), sort_keys=True),
        ckpt=lambda wc: f"{OUT}/eval_ckpt/linear/{wc.run}",  # undeclared: a retried job resumes from it
    benchmark:
        f"{OUT}/benchmarks/linear_probe/{{run}}.tsv"
    log:
        f"{OUT}/logs/linear/{{run}}.log",
    threads: 1
    resources:
        **resources("linear"),
    shell:
        "python -m evaluations linear --backbone {input.backbone} --spec {params.spec:q} "
        "--config-json {params.cfg:q} --out {output.metrics} --predictions {output.predictions} --ckpt {params.ckpt} "
        "> {log} 2>&1"


# Table 1 cells: frozen features (cached in the undeclared features/<run>/, keyed on the checkpoint's
# bytes, the split and the preprocessing) and the Kornblith logistic protocol; one cell per job, or a
# run's row (eval.transfer.jobs: per_run).
rule transfer_linear:
    conda:
        ENVIRONMENT
    input:
        backbone=rules.pretrain.output.backbone,
        data=transfer_data,
    output:
        expand(f"{OUT}/eval/transfer/{{{{run}}}}/{{dataset}}.json", dataset=TRANSFER["datasets"]) if TRANSFER_PER_RUN
        else f"{OUT}/eval/transfer/{{run}}/{{dataset}}.json",
    params:
        cfg=TRANSFER_JOB,
        datasets=transfer_datasets,
        device=config["train"]["device"],
        cache=lambda w: f"{OUT}/features/{w.run}",
    benchmark:
        f"{OUT}/benchmarks/transfer_linear/{TRANSFER_JOB_PATH}.tsv"
    log:
        f"{OUT}/logs/transfer/{TRANSFER_JOB_PATH}.log",
    threads: 1
    resources:
        **resources("transfer"),
    shell:
        "python -m evaluations transfer --backbone {input.backbone} --run {wildcards.run} --dataset {params.datasets} "
        "--config-json {params.cfg:q} --device {params.device} --cache-dir {params.cache} --threads {threads} --out {output} "
        "> {log} 2>&1"


rule detectron2_weights:
    conda:
        ENVIRONMENT
    input:
        rules.pretrain.output.backbone,
    output:
        f"{OUT}/dense/{{run}}/backbone_detectron2.pkl",
    log:
        f"{OUT}/logs/detectron2_weights/{{run}}.log",
    resources:
        **resources("report"),
    shell:
        "python -m evaluations dense-convert --backbone {input} --out {output} > {log} 2>&1"


rule dense:
    conda:
        ENVIRONMENT
    input:
        backbone=rules.pretrain.output.backbone,
        weights=rules.detectron2_weights.output[0],
        data=dense_data,
    output:
        f"{OUT}/eval/dense/{{run}}/{{task}}.json",
    wildcard_constraints:
        task="|".join(DENSE_TASKS),
    params:
        spec=run_spec,
        cfg=dense_spec,
        data=dense_data_spec(),
        workdir=lambda w: f"{OUT}/dense/{w.run}/{w.task}",  # Detectron2's checkpoints (undeclared: resumed)
    benchmark:
        f"{OUT}/benchmarks/dense/{{run}}/{{task}}.tsv"
    log:
        f"{OUT}/logs/dense/{{run}}/{{task}}.log",
    threads: 1
    resources:
        **resources("dense"),
    shell:
        "python -m evaluations dense --task {wildcards.task} --backbone {input.backbone} --weights {input.weights} "
        "--spec {params.spec:q} --config-json {params.cfg:q} --data-json {params.data:q} --workdir {params.workdir} "
        "--threads {threads} --out {output} > {log} 2>&1"
