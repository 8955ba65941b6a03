# Evaluations read only a run's backbone.pt and the dataset.


rule linear_probe:
    input:
        backbone=rules.pretrain.output.backbone,
        data=pretrain_data,
    output:
        f"{OUT}/eval/linear/{{run}}.json",
    params:
        spec=run_spec,
        cfg=json.dumps(config["eval"]["linear"], sort_keys=True),
    log:
        f"{OUT}/logs/linear/{{run}}.log",
    threads: 1
    resources:
        **resources("evaluate"),
    shell:
        "python -m evaluations linear --backbone {input.backbone} --spec {params.spec:q} "
        "--config-json {params.cfg:q} --out {output} > {log} 2>&1"
