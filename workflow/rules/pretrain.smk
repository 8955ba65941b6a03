# One job per run. Resumable state lives in the undeclared ckpt/ folder: Snakemake deletes the
# declared outputs of a failed job, never the checkpoint, so a retried or resubmitted job resumes.


rule pretrain:
    conda:
        ENVIRONMENT
    input:
        pretrain_data,
    output:
        backbone=f"{OUT}/pretrain/{{run}}/backbone.pt",
        run_json=f"{OUT}/pretrain/{{run}}/run.json",
        metrics=f"{OUT}/pretrain/{{run}}/metrics.jsonl",
    params:
        spec=run_spec,
        out=lambda w, output: os.path.dirname(output.backbone),
        ckpt=lambda w: f"{OUT}/ckpt/{w.run}",
        launch=launcher("pretrain"),
    benchmark:
        f"{OUT}/benchmarks/pretrain/{{run}}.tsv"
    log:
        f"{OUT}/logs/pretrain/{{run}}.log",
    threads: 1
    priority: pretrain_priority
    resources:
        **resources("pretrain"),
    shell:
        "{params.launch} -m ssl_core pretrain --spec {params.spec:q} --out {params.out} --ckpt {params.ckpt} --threads {threads} "
        "> {log} 2>&1"
