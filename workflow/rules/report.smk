# metrics.csv is the only input of the tables and figures, with the published numbers.


rule aggregate:
    input:
        runs=expand(f"{OUT}/pretrain/{{run}}/run.json", run=RUNS),
        evals=expand(f"{OUT}/eval/linear/{{run}}.json", run=RUNS),
    output:
        f"{OUT}/metrics.csv",
    shell:
        "python -m evaluations aggregate --runs {input.runs} --evals {input.evals} --out {output}"


rule fig2_linear:
    input:
        metrics=rules.aggregate.output[0],
        paper="results/paper/fig2_linear.csv",
    output:
        table=multiext(f"{OUT}/tables/fig2_linear", ".tex", ".csv"),
        figure=report(
            multiext(f"{OUT}/figures/fig2_params_vs_top1", ".pdf", ".png"),
            caption="../report/fig2.rst",
            category="Fig. 2 linear probe",
        ),
    shell:
        "python -m evaluations fig2 --metrics {input.metrics} --paper {input.paper} --profile {PROFILE} "
        "--table {OUT}/tables/fig2_linear --figure {OUT}/figures/fig2_params_vs_top1"
