# Helpers shared by the rules: run specs and inputs derived from the validated config.


def run_spec(wildcards):
    """A run's full spec as JSON: a param, so editing any value it uses reruns exactly that run."""
    return json.dumps(RUNS[wildcards.run], sort_keys=True)


def pretrain_data(wildcards):
    """The generated dataset is an input of the jobs that read it; ImageNet is not a DAG product."""
    pretrain = config["data"]["pretrain"]
    return pretrain["root"] if pretrain["name"] == "shapes" else []
