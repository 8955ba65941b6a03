# Helpers shared by the rules: run specs and inputs derived from the validated config.


def run_spec(wildcards):
    """A run's training spec as JSON: a param, so editing any value it uses reruns exactly that
    run (and a sweep that merely reuses it, adding a group, reruns none)."""
    return json.dumps(training_spec(RUNS[wildcards.run]), sort_keys=True)


MAIN_RUNS = [r for r, s in RUNS.items() if MAIN_GROUP in s["groups"]]  # Fig. 2, Tables 1-2


def pretrain_priority(wildcards):
    """The main runs and their floor and ceiling before the sweeps' points: the long trainings
    start first and the short ones fill the cores beside them, so the last evaluations of a main run
    do not wait at the end of the DAG (tiny profile, 2 cores: the main runs start late otherwise)."""
    return 1 if wildcards.run in MAIN_RUNS else 0


DOWNLOADS = downloads(config)  # name -> root of each dataset the profile downloads (cifar only)


def downloaded_marker(dataset):
    return f"{OUT}/data/downloaded/{dataset}.json"


# The miniature datasets in the real layouts (paper_smoke profile): the DAG's first rule writes them.
MINIATURE = config["data"].get("miniature")


def pretrain_source(wildcards):
    """What the pretraining set comes from: the generated shapes, the download of CIFAR (cifar
    profile) or the miniature trees (paper_smoke); ImageNet is on disk, not a DAG product."""
    pretrain = config["data"]["pretrain"]
    if MINIATURE:
        return MINIATURE
    if pretrain["name"] == "shapes":
        return pretrain["root"]
    return [downloaded_marker(pretrain["name"])] if pretrain["name"] in DOWNLOADS else []


def pretrain_data(wildcards):
    """The jobs that read the pretraining set wait for the check of its images (which waits for
    the set itself) and, where dense jobs will read VOC and COCO on disk, for theirs: no GPU job
    starts before every dataset it or a later job reads is checked."""
    checked = [f"{OUT}/data/checked/pretrain.json"]
    return checked + ([f"{OUT}/data/checked/dense.json"] if DENSE_DATA == "real" and DENSE_RUNS else [])


def resources(kind):
    """SLURM resources of a rule kind (pretrain / linear / transfer / dense / evaluate / report) from the config's `cluster`
    section: workflow/profiles/slurm turns them into sbatch options; local runs ignore them."""
    cluster = config.get("cluster", {})
    job = cluster.get(kind) or (cluster.get("evaluate", {}) if kind in ("linear", "transfer", "dense") else {})
    res = {"runtime": job.get("runtime", 60), "mem_mb": job.get("mem_mb", 4000)}
    signal = cluster.get("signal_seconds", 120) if cluster else 0
    # checkpoint, exit 3, resume (ssl_core.preemption); not for a job whose whole limit is within 4x the
    # signal's lead: it would be signalled at its start, every attempt, and never progress
    if signal and res["runtime"] * 60 > 4 * signal:
        res["slurm_extra"] = f"'--signal=USR1@{signal}'"
    for key, name in (("account", "slurm_account"), ("partition", "slurm_partition")):
        value = job.get(key, cluster.get(key))  # a rule kind may use its own partition
        if value:
            res[name] = value
    for key in ("nodes", "cpus_per_task", "constraint", "qos"):
        if key in job:
            res[key] = job[key]
    if job.get("gpus_per_node"):
        res["gres"] = f"gpu:{job['gpus_per_node']}"
    elif job.get("nodes", 1) > 1:  # the plugin asks a CPU job for --ntasks=1 (one node) unless told
        res["tasks"] = job["nodes"]
    return res


def launcher(kind):
    """How a job starts its Python processes: plain `python`, or, for more than one GPU or node,
    workflow/scripts/srun_torchrun.sh: torchrun on every node of the allocation (one srun task per
    node, `--overlap` beside the executor plugin's own step, c10d rendezvous on the first node), the
    entry point `ssl_core.distributed` expects (the script says why each option is there)."""
    job = config.get("cluster", {}).get(kind, {})
    gpus, nodes = job.get("gpus_per_node", 0), job.get("nodes", 1)
    if gpus <= 1 and nodes == 1:
        return "python"
    # relative to the working directory: a param, so moving the checkout reruns nothing
    script = os.path.relpath(os.path.join(workflow.basedir, "workflow", "scripts", "srun_torchrun.sh"))
    return f"bash {script} {nodes} {max(gpus, 1)} {job.get('cpus_per_task', 1)} {gpus}"


SWEEPS = {sweep["method"]: sweep for sweep in config.get("sweeps", [])}


def sweep_param(param):
    """What a Fig. 5 (s) / Fig. 6 (k) figure reads from metrics.csv: the sweep's runs by role."""

    def spec(wildcards):
        return json.dumps(sweep_figure(config, SWEEPS[wildcards.method], param), sort_keys=True)

    return spec


# Dense prediction (Table 2): the main runs of each backbone family with a schedule under
# eval.dense (with eval.dense.floor their random-init floors; eval.dense.methods / seeds narrow
# them), one job per (run, task); none where Detectron2 is not installed (said once here).
from evaluations.dense import TASKS as DENSE_TASKS, dense_runs as select_dense_runs, left_out as dense_left_out

# Generated dense data comes from the generated pretraining data (shapes); real data is on disk.
DENSE_DATA = config["data"].get("dense", {}).get("name")
DENSE_DATA = DENSE_DATA if DENSE_DATA == "real" or config["data"]["pretrain"]["name"] == DENSE_DATA == "shapes" else None
DENSE_RUNS = select_dense_runs(config, RUNS) if DENSE_DATA else []
DENSE_STATUS = f"not run in profile {PROFILE}"  # why a Table 2 row has no result of ours
if DENSE_RUNS and not detectron2_available():
    print(f"NOTE: {DETECTRON2_MISSING}", file=sys.stderr)
    DENSE_RUNS, DENSE_STATUS = [], "not run: Detectron2 not installed"


def dense_spec(wildcards):
    """The dense job's schedule: eval.dense.<family>.<task> of the config."""
    return json.dumps(config["eval"]["dense"][arch_family(RUNS[wildcards.run]["arch"])][wildcards.task], sort_keys=True)


def dense_data_spec():
    data = dict(config["data"].get("dense", {}))
    if DENSE_DATA == "shapes":
        data["shapes_root"] = config["data"]["pretrain"]["root"]
    return json.dumps(data, sort_keys=True)


def dense_data(wildcards):
    """The generated dense data is an input of the dense jobs; VOC/COCO on disk are not DAG products,
    but the dense jobs wait for their check (check_dense_data)."""
    if DENSE_DATA == "real":
        return f"{OUT}/data/checked/dense.json"
    return config["data"]["dense"]["root"] if DENSE_DATA == "shapes" else []


# Table 1 / Fig. 4: the transfer jobs, one per (run, dataset), or per run (eval.transfer.jobs).
TRANSFER = config["eval"]["transfer"]
TRANSFER_RUNS = list(RUNS) if TRANSFER["runs"] == "all" else MAIN_RUNS
TRANSFER_PER_RUN = TRANSFER.get("jobs", "per_dataset") == "per_run"
# A job's wildcards, below eval/, benchmarks/ and logs/: {run}/{dataset}, or {run} for all datasets.
TRANSFER_JOB_PATH = "{run}" if TRANSFER_PER_RUN else "{run}/{dataset}"
# What one transfer job reads (a param: editing it reruns the jobs; the dataset list does not).
TRANSFER_JOB = json.dumps({k: v for k, v in TRANSFER.items() if k not in ("datasets", "runs", "standins", "jobs")},
                          sort_keys=True)
TABLE1_METHODS = method_names()  # the rows of Table 1, the panels of Fig. 4: every method (ssl_core.methods)


# The generated stand-ins (evaluations.transfer.standins.STANDINS) are the shapes_* datasets.
TRANSFER_GENERATED = [d for d in TRANSFER["datasets"] if d.startswith("shapes_")]


def transfer_source(wildcards):
    """What a transfer set comes from: the stand-ins the DAG generates into data_root
    (transfer_standins), a download (cifar profile), or the disk (the paper's sets)."""
    if MINIATURE:
        return MINIATURE
    if wildcards.dataset in TRANSFER_GENERATED:
        return TRANSFER["data_root"]
    return [downloaded_marker(wildcards.dataset)] if wildcards.dataset in DOWNLOADS else []


def transfer_datasets(wildcards):
    """The datasets of a transfer job."""
    return TRANSFER["datasets"] if TRANSFER_PER_RUN else [wildcards.dataset]


def transfer_data(wildcards):
    """The jobs that read a transfer set wait for the check of its images."""
    return [f"{OUT}/data/checked/transfer/{d}.json" for d in transfer_datasets(wildcards)]
