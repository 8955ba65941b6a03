# The compute budget of the profile's runs (not part of `all`: it times real training steps).


rule compute_budget:
    conda:
        ENVIRONMENT
    output:
        f"{OUT}/compute_budget.csv",
    params:
        cfg=json.dumps(config, sort_keys=True),
    log:
        f"{OUT}/logs/compute_budget.log",
    threads: 1
    shell:
        "python -m ssl_core budget --config-json {params.cfg:q} --out {output} --threads {threads} > {log} 2>&1"
