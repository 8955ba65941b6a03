#!/usr/bin/env bash
# torchrun on every node of the SLURM job this runs in (one srun task per node, c10d rendezvous on
# the job's first node), in front of the arguments given after the counts:
#   srun_torchrun.sh NODES PROCS_PER_NODE CPUS_PER_TASK GPUS_PER_NODE -m ssl_core pretrain ...
# Why not a plain `srun torchrun`: snakemake-executor-plugin-slurm already runs the rule's shell
# inside a job step (`srun -n1 ...` on the first node) that holds the job's CPUs, so
#  - a plain srun waits for them for the job's whole runtime (measured on a real SLURM: it hangs
#    silently); `--overlap` lets this step share the outer step's CPUs, memory and GPUs;
#  - the outer step's environment describes that step (SLURM_NNODES=1, SLURM_JOB_NODELIST=<first
#    node>, SLURM_NTASKS=1): srun would refuse 2 nodes ("Only allocated 1 nodes"), so every SLURM_*
#    variable but the job's id goes, and the node list comes from the controller;
#  - a node's name need not resolve (SLURM reaches it at its NodeAddr): the rendezvous uses NodeAddr;
#  - two jobs can start on the same first node (jobs of part of a node's GPUs): each its own
#    rendezvous port, from its job id (SSL_RDZV_PORT overrides it); one fixed port made the second
#    job's agents join the first job's store and both fail (measured on the local SLURM);
#  - SLURM's --signal=USR1 reaches every process of the step: torchrun's agent ignores it (it would
#    die of it, and a site whose process tracking ends a step with its first process would end the
#    workers before they saved); the workers inherit that and install their own handler
#    (ssl_core.preemption: save at the signal's step, exit 3).
set -euo pipefail
nodes=$1 nproc=$2 cpus=$3 gpus=$4
shift 4
job=${SLURM_JOB_ID:?"srun_torchrun.sh runs inside a SLURM job (no SLURM_JOB_ID)"}
nodelist=$(squeue -h -j "$job" -o %N)
first=$(scontrol show hostnames "$nodelist" | head -n 1)
addr=$(scontrol show node "$first" | sed -n 's/.*NodeAddr=\([^ ]*\).*/\1/p')
for var in $(compgen -e); do
    case $var in SLURM_JOB_ID | SLURM_JOBID | SLURM_CONF) ;; SLURM_*) unset "$var" ;; esac
done
port=${SSL_RDZV_PORT:-$((20000 + job % 20000))}
gres=()
[ "$gpus" -gt 0 ] && gres=("--gres=gpu:$gpus")
exec srun --overlap --nodes="$nodes" --ntasks="$nodes" --ntasks-per-node=1 --cpus-per-task="$cpus" "${gres[@]}" \
    --kill-on-bad-exit=1 bash -c 'trap "" USR1; exec "$@"' torchrun python -m torch.distributed.run --nnodes="$nodes" --nproc-per-node="$nproc" \
    --rdzv-backend=c10d --rdzv-id="$job" --rdzv-endpoint="${addr:-$first}:$port" "$@"
