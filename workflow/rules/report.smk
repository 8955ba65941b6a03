# metrics.csv is the only input of the tables and figures, with the published numbers.


rule aggregate:
    conda:
        ENVIRONMENT
    input:
        runs=expand(f"{OUT}/pretrain/{{run}}/run.json", run=RUNS),
        evals=expand(f"{OUT}/eval/linear/{{run}}.json", run=RUNS),
        transfer=expand(f"{OUT}/eval/transfer/{{run}}/{{dataset}}.json", run=TRANSFER_RUNS, dataset=TRANSFER["datasets"]),
        dense=expand(f"{OUT}/eval/dense/{{run}}/{{task}}.json", run=DENSE_RUNS, task=DENSE_TASKS),
    output:
        f"{OUT}/metrics.csv",
    params:
        groups=json.dumps(run_groups(RUNS), sort_keys=True),  # run -> the groups that use it: a row per group
    log:
        f"{OUT}/logs/aggregate.log",
    resources:
        **resources("report"),
    shell:
        "python -m evaluations aggregate --runs {input.runs} --evals {input.evals} {input.transfer} {input.dense} "
        "--groups {params.groups:q} --out {output} > {log} 2>&1"


rule fig2_linear:
    conda:
        ENVIRONMENT
    input:
        metrics=rules.aggregate.output[0],
        paper="results/paper/fig2_linear.csv",
    output:
        table=report(
            multiext(f"{OUT}/tables/fig2_linear", ".tex", ".csv"),
            caption="../report/fig2_table.rst",
            category="Fig. 2 linear probe",
        ),
        figure=report(
            multiext(f"{OUT}/figures/fig2_params_vs_top1", ".pdf", ".png"),
            caption="../report/fig2.rst",
            category="Fig. 2 linear probe",
        ),
    params:
        profile=PROFILE,
        table=lambda w, output: output.table[0].removesuffix(".tex"),
        figure=lambda w, output: output.figure[0].removesuffix(".pdf"),
    log:
        f"{OUT}/logs/fig2_linear.log",
    resources:
        **resources("report"),
    shell:
        "python -m evaluations fig2 --metrics {input.metrics} --paper {input.paper} --profile {params.profile} "
        "--table {params.table} --figure {params.figure} > {log} 2>&1"


# Fig. 3's views and the cosine study's encoder: the method of eval.views_method.
VIEWS_METHOD = config["eval"]["views_method"]


rule fig3_augmentations:
    conda:
        ENVIRONMENT
    input:
        pretrain_data,
    output:
        report(f"{OUT}/figures/fig3_augmentations.png", caption="../report/fig3.rst", category="Fig. 3 augmentations"),
    params:
        spec=lambda w: json.dumps(training_spec(next(s for s in RUNS.values() if s["method"] == VIEWS_METHOD)), sort_keys=True),
        stem=lambda w, output: output[0].removesuffix(".png"),
    log:
        f"{OUT}/logs/fig3_augmentations.log",
    resources:
        **resources("report"),
    shell:
        "python -m evaluations fig3 --spec {params.spec:q} --figure {params.stem} > {log} 2>&1"


for _num, _param in ((5, "s"), (6, "k")):

    rule:
        name:
            f"fig{_num}_sensitivity_{_param}"
        conda:
            ENVIRONMENT
        input:
            metrics=rules.aggregate.output[0],
        output:
            report(
                multiext(f"{OUT}/figures/fig{_num}_sensitivity_{_param}_{{method}}", ".pdf", ".png"),
                caption=f"../report/fig{_num}.rst",
                category=f"Fig. {_num} sensitivity to {_param}",
            ),
            f"{OUT}/figures/fig{_num}_sensitivity_{_param}_{{method}}.csv",
        params:
            sweep=sweep_param(_param),
            param=_param,
            profile=PROFILE,
            stem=lambda w, output: output[0].removesuffix(".pdf"),
        log:
            f"{OUT}/logs/fig{_num}_sensitivity_{_param}_{{method}}.log",
        resources:
            **resources("report"),
        shell:
            "python -m evaluations sensitivity --metrics {input.metrics} --sweep {params.sweep:q} "
            "--param {params.param} --profile {params.profile} --figure {params.stem} > {log} 2>&1"


COSINE_RUN = next((r for r in MAIN_RUNS if RUNS[r]["method"] == VIEWS_METHOD and RUNS[r]["variant"] == "baseline"), None)


rule cosine_study:
    conda:
        ENVIRONMENT
    input:
        backbone=f"{OUT}/pretrain/{COSINE_RUN}/backbone.pt",
        data=pretrain_data,
        paper="results/paper/cosine_study.csv",
    output:
        report(f"{OUT}/tables/cosine_study.csv", caption="../report/cosine_study.rst", category="Sec. 3 cosine study"),
    params:
        spec=json.dumps(training_spec(RUNS[COSINE_RUN]) if COSINE_RUN else None, sort_keys=True),
        n_images=config["eval"].get("cosine_study", {}).get("n_images", 0),
    log:
        f"{OUT}/logs/cosine_study.log",
    resources:
        **resources("evaluate"),
    shell:
        "python -m evaluations cosine --backbone {input.backbone} --spec {params.spec:q} --paper {input.paper} "
        "--n-images {params.n_images} --out {output} > {log} 2>&1"


rule table2_dense:
    conda:
        ENVIRONMENT
    input:
        metrics=rules.aggregate.output[0],
        paper="results/paper/table2_dense.csv",
    output:
        report(multiext(f"{OUT}/tables/table2_dense", ".tex", ".csv"), caption="../report/table2.rst",
               category="Table 2 dense prediction"),
    params:
        profile=PROFILE,
        status=DENSE_STATUS,
        stem=lambda w, output: output[0].removesuffix(".tex"),
    log:
        f"{OUT}/logs/table2_dense.log",
    resources:
        **resources("report"),
    shell:
        "python -m evaluations table2 --metrics {input.metrics} --paper {input.paper} --profile {params.profile} "
        "--status {params.status:q} --table {params.stem} > {log} 2>&1"


rule table1_transfer:
    conda:
        ENVIRONMENT
    input:
        metrics=rules.aggregate.output[0],
        paper="results/paper/table1_transfer.csv",
    output:
        multiext(f"{OUT}/tables/table1_transfer", ".tex", ".csv"),
    params:
        profile=PROFILE,
        table=lambda w, output: output[0].removesuffix(".tex"),
    log:
        f"{OUT}/logs/table1_transfer.log",
    resources:
        **resources("report"),
    shell:
        "python -m evaluations table1 --metrics {input.metrics} --paper {input.paper} --profile {params.profile} "
        "--table {params.table} > {log} 2>&1"


rule fig4_radar:
    conda:
        ENVIRONMENT
    input:
        metrics=rules.aggregate.output[0],
        paper="results/paper/table1_transfer.csv",
    output:
        report(
            multiext(f"{OUT}/figures/fig4_radar_{{method}}", ".pdf", ".png"),
            caption="../report/fig4.rst",
            category="Fig. 4 transfer",
        ),
    params:
        profile=PROFILE,
        stem=lambda w, output: output[0].removesuffix(".pdf"),
    log:
        f"{OUT}/logs/fig4_radar_{{method}}.log",
    resources:
        **resources("report"),
    shell:
        "python -m evaluations fig4 --metrics {input.metrics} --paper {input.paper} --profile {params.profile} "
        "--method {wildcards.method} --figure {params.stem} > {log} 2>&1"


rule claims:
    conda:
        ENVIRONMENT
    input:
        metrics=rules.aggregate.output[0],
        cosine=rules.cosine_study.output[0],
        paper=expand("results/paper/{name}.csv", name=("fig2_linear", "text_claims", "table1_transfer", "table2_dense",
                                                       "sensitivity_best", "cosine_study")),
    output:
        report(multiext(f"{OUT}/tables/claims", ".csv", ".tex"), caption="../report/claims.rst",
               category="0 Claims: verdicts"),
    params:
        profile=PROFILE,
        sweeps=json.dumps(config.get("sweeps", []), sort_keys=True),
        dense_status=DENSE_STATUS,
        dense_left_out=json.dumps(dense_left_out(config), sort_keys=True),
        stem=lambda w, output: output[0].removesuffix(".csv"),
    log:
        f"{OUT}/logs/claims.log",
    resources:
        **resources("report"),
    shell:
        "python -m evaluations claims --metrics {input.metrics} --cosine {input.cosine} --paper-dir results/paper "
        "--sweeps {params.sweeps:q} --profile {params.profile} --table {params.stem} "
        "--dense-status {params.dense_status:q} --dense-left-out {params.dense_left_out:q} > {log} 2>&1"


rule forest:
    conda:
        ENVIRONMENT
    input:
        rules.claims.output[0],
    output:
        report(multiext(f"{OUT}/figures/forest", ".pdf", ".png"), caption="../report/forest.rst",
               category="0 Claims: verdicts"),
    params:
        profile=PROFILE,
        stem=lambda w, output: output[0].removesuffix(".pdf"),
    log:
        f"{OUT}/logs/forest.log",
    resources:
        **resources("report"),
    shell:
        "python -m evaluations forest --claims {input} --profile {params.profile} --figure {params.stem} > {log} 2>&1"


# Training curves: per method, what its main runs logged per step (metrics.jsonl), baseline and rescued overlaid.
CURVE_RUNS = {m: sorted(r for r in MAIN_RUNS if RUNS[r]["method"] == m and RUNS[r]["variant"] in ("baseline", "rescued"))
              for m in sorted({RUNS[r]["method"] for r in MAIN_RUNS})}
CURVE_RUNS = {m: runs for m, runs in CURVE_RUNS.items() if runs}


rule training_curves:
    conda:
        ENVIRONMENT
    input:
        runs=lambda w: expand(f"{OUT}/pretrain/{{run}}/run.json", run=CURVE_RUNS[w.method]),
        metrics=lambda w: expand(f"{OUT}/pretrain/{{run}}/metrics.jsonl", run=CURVE_RUNS[w.method]),
    output:
        report(
            multiext(f"{OUT}/figures/training_curves_{{method}}", ".pdf", ".png"),
            caption="../report/curves.rst",
            category="Training curves",
        ),
        f"{OUT}/figures/training_curves_{{method}}.csv",
    wildcard_constraints:
        method="|".join(CURVE_RUNS) or "none",
    params:
        dirs=lambda w, input: [os.path.dirname(p) for p in input.runs],
        profile=PROFILE,
        stem=lambda w, output: output[0].removesuffix(".pdf"),
    log:
        f"{OUT}/logs/training_curves_{{method}}.log",
    resources:
        **resources("report"),
    shell:
        "python -m evaluations curves --runs {params.dirs} --method {wildcards.method} --profile {params.profile} "
        "--figure {params.stem} > {log} 2>&1"
