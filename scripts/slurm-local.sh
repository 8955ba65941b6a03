#!/usr/bin/env bash
# A real SLURM on this one machine, for the SLURM tests (make test-slurm): Debian's slurm-wlm
# (22.05 on bookworm) started by hand, without systemd:
#   munged, MariaDB + slurmdbd (sacct, which the executor plugin polls, needs the accounting
#   database), slurmctld and two compute daemons on this host (`slurmd -N n1`, `slurmd -N n2`,
#   each its own NodeName line and port), each node with 2 fake GPUs through GRES (character
#   devices made with mknod; gres.conf AutoDetect=off; torch sees no CUDA, so jobs run on CPU).
# Every file (configs, keys, spool, state, database, logs, pid files) lives under $SLURM_LOCAL_DIR
# (default .slurm-local/ in the checkout, git-ignored); `stop` ends the daemons by their pid files.
# One thing lives outside it: /etc/slurm/{slurm,gres,slurmdbd}.conf, symbolic links to the configs
# here, made by `start` and removed by `stop` (never over a file that is not such a link). The
# executor plugin's job step drops every SLURM_* variable (SLURM_CONF included) before its srun, so
# the client commands inside a job find the cluster only at the compiled-in default path.
#
#   scripts/slurm-local.sh install   apt-get the packages if a binary is missing (root only)
#   scripts/slurm-local.sh start     install, write the configs, start everything, wait for idle nodes
#   scripts/slurm-local.sh status    exit 0 when every daemon runs and both nodes answer
#   scripts/slurm-local.sh stop      cancel the jobs, stop every daemon by its pid
#   scripts/slurm-local.sh env       the line to eval for the client commands: export SLURM_CONF=...
# When `start` fails, the reason is in $SLURM_LOCAL_DIR/unavailable (one line): the tests skip with it.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
S="$(mkdir -p "${SLURM_LOCAL_DIR:-$ROOT/.slurm-local}" && cd "${SLURM_LOCAL_DIR:-$ROOT/.slurm-local}" && pwd)"
PORT="${SLURM_LOCAL_PORT:-16817}"  # slurmctld; slurmd n1/n2, slurmdbd and MariaDB on the next ports
CTLD_PORT=$PORT N1_PORT=$((PORT + 1)) N2_PORT=$((PORT + 2)) DBD_PORT=$((PORT + 3)) DB_PORT=$((PORT + 4))
CLUSTER=rescue
ACCOUNT=acc1   # the account the tests' cluster config names
HOST="$(hostname -s)"
export SLURM_CONF="$S/etc/slurm.conf"
PKGS="slurm-wlm slurmdbd munge mariadb-server"
BINARIES="munged slurmctld slurmd slurmdbd mariadbd mariadb-install-db sbatch sacct sacctmgr"

say() { echo "slurm-local: $*" >&2; }
fail() {  # the reason, for the tests' skip message
    mkdir -p "$S"
    echo "$*" > "$S/unavailable"
    say "cannot start: $*"
    [ -n "${STARTING:-}" ] && { STARTING=; stop > /dev/null 2>&1 || true; }
    exit 1
}
missing() { for b in $BINARIES; do command -v "$b" > /dev/null 2>&1 || PATH="$PATH:/usr/sbin" command -v "$b" > /dev/null 2>&1 || echo "$b"; done; }
alive() { [ -f "$S/run/$1.pid" ] && kill -0 "$(cat "$S/run/$1.pid")" 2> /dev/null; }

install() {
    export PATH="$PATH:/usr/sbin"
    [ -z "$(missing)" ] && return 0
    [ "$(id -u)" = 0 ] || fail "not installed ($(missing | tr '\n' ' ')) and not root: apt-get install $PKGS"
    command -v apt-get > /dev/null || fail "not installed and no apt-get: install $PKGS (Debian/Ubuntu names)"
    say "apt-get install $PKGS"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PKGS; } \
        > "$S/apt.log" 2>&1 || fail "apt-get install $PKGS failed (see $S/apt.log)"
    [ -z "$(missing)" ] || fail "installed, but still missing: $(missing | tr '\n' ' ')"
}

write_configs() {
    mkdir -p "$S"/{etc,run,log,state,spool,dev,db}
    chmod 755 "$S" "$S/run" "$S/log"
    local n
    for n in 0 1 2 3; do [ -c "$S/dev/gpu$n" ] || mknod "$S/dev/gpu$n" c 195 "$n"; done
    [ -f "$S/etc/munge.key" ] || { head -c 1024 /dev/urandom > "$S/etc/munge.key"; chmod 400 "$S/etc/munge.key"; }
    cat > "$S/etc/slurm.conf" << EOF
# written by scripts/slurm-local.sh: a two-node cluster on one host, state under $S
ClusterName=$CLUSTER
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$S/run/munge.sock
CredType=cred/munge
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool/%n
SlurmctldPidFile=$S/run/slurmctld.pid
SlurmdPidFile=$S/run/slurmd.%n.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
AccountingStoragePass=$S/run/munge.sock
AccountingStorageTRES=gres/gpu
AccountingStorageEnforce=associations
AccountingStoreFlags=job_comment
GresTypes=gpu
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerNode=500
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=10
OverTimeLimit=0
InactiveLimit=0
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=30
# the cores and memory each node advertises (config_overrides: more than this host has, so that
# a 2-node job and the DAG's small jobs fit side by side; the jobs share the host's 2 cores)
NodeName=n1 NodeHostname=$HOST NodeAddr=127.0.0.1 Port=$N1_PORT CPUs=4 RealMemory=8000 Gres=gpu:2 State=UNKNOWN
NodeName=n2 NodeHostname=$HOST NodeAddr=127.0.0.1 Port=$N2_PORT CPUs=4 RealMemory=8000 Gres=gpu:2 State=UNKNOWN
PartitionName=gpu Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP
PartitionName=cpu Nodes=n1,n2 MaxTime=INFINITE State=UP
EOF
    cat > "$S/etc/gres.conf" << EOF
AutoDetect=off
NodeName=n1 Name=gpu File=$S/dev/gpu[0-1]
NodeName=n2 Name=gpu File=$S/dev/gpu[2-3]
EOF
    cat > "$S/etc/slurmdbd.conf" << EOF
AuthType=auth/munge
AuthInfo=socket=$S/run/munge.sock
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
PidFile=$S/run/slurmdbd.pid
LogFile=$S/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
EOF
    chmod 600 "$S/etc/slurmdbd.conf"
}

wait_for() {  # seconds, what, command...
    local t=$1 what=$2; shift 2
    local end=$((SECONDS + t))
    while [ $SECONDS -lt $end ]; do "$@" > /dev/null 2>&1 && return 0; sleep 0.25; done
    fail "$what did not come up in ${t} s (logs: $S/log/)"
}

db() { mariadb --no-defaults --socket="$S/run/mysql.sock" -uroot "$@"; }

start() {
    install
    export PATH="$PATH:/usr/sbin"
    if status > /dev/null 2>&1; then say "already running ($SLURM_CONF)"; return 0; fi
    stop > /dev/null 2>&1 || true
    rm -f "$S/unavailable"
    STARTING=1  # from here a failure stops what has started
    for p in $CTLD_PORT $N1_PORT $N2_PORT $DBD_PORT $DB_PORT; do
        if (exec 3<> "/dev/tcp/127.0.0.1/$p") 2> /dev/null; then
            fail "port $p is in use (another SLURM?): set SLURM_LOCAL_PORT to a free base port"
        fi
    done
    write_configs
    link_default_conf
    munged --socket="$S/run/munge.sock" --key-file="$S/etc/munge.key" --pid-file="$S/run/munged.pid" \
        --log-file="$S/log/munged.log" --seed-file="$S/run/munge.seed" --force 2> "$S/log/munged.err" \
        || fail "munged did not start: $(tail -n 1 "$S/log/munged.err")"
    if [ ! -d "$S/db/mysql" ]; then
        mariadb-install-db --no-defaults --datadir="$S/db" --user=root --skip-test-db \
            > "$S/log/mariadb-install.log" 2>&1 || fail "mariadb-install-db failed (see $S/log/mariadb-install.log)"
    fi
    setsid mariadbd --no-defaults --datadir="$S/db" --socket="$S/run/mysql.sock" --port="$DB_PORT" \
        --bind-address=127.0.0.1 --user=root --pid-file="$S/run/mariadbd.pid" --log-error="$S/log/mariadb.log" \
        --innodb-buffer-pool-size=64M > /dev/null 2>&1 < /dev/null &
    wait_for 30 MariaDB db -e "select 1"
    db -e "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
           GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1'; FLUSH PRIVILEGES;"
    slurmdbd 2> "$S/log/slurmdbd.err" \
        || fail "slurmdbd did not start: $(tail -n 1 "$S/log/slurmdbd.err")"
    wait_for 30 slurmdbd sacctmgr -n list cluster
    sacctmgr -i add cluster "$CLUSTER" > /dev/null 2>&1 || true
    sacctmgr -i add account "$ACCOUNT" cluster="$CLUSTER" Description=tests Organization=tests > /dev/null 2>&1 || true
    sacctmgr -i add user root account="$ACCOUNT" cluster="$CLUSTER" DefaultAccount="$ACCOUNT" > /dev/null 2>&1 || true
    sacctmgr -n -P list assoc user=root format=account | grep -qx "$ACCOUNT" \
        || fail "sacctmgr could not add account $ACCOUNT (see $S/log/slurmdbd.log)"
    slurmctld 2> "$S/log/slurmctld.err" || fail "slurmctld did not start: $(tail -n 1 "$S/log/slurmctld.err")"
    wait_for 30 slurmctld scontrol ping
    for n in n1 n2; do
        slurmd -N "$n" 2> "$S/log/slurmd.$n.err" || fail "slurmd -N $n did not start: $(tail -n 1 "$S/log/slurmd.$n.err")"
    done
    wait_for 60 "the nodes (idle)" nodes_idle
    say "up: $(sinfo -h -o '%P %D %t' | tr '\n' ';') SLURM_CONF=$SLURM_CONF"
}

link_default_conf() {
    local f
    mkdir -p /etc/slurm 2> /dev/null || fail "cannot create /etc/slurm (not root?)"
    for f in slurm.conf gres.conf slurmdbd.conf; do
        target="$(readlink "/etc/slurm/$f" || true)"
        if [ -e "/etc/slurm/$f" ] && [ "$target" != "$S/etc/$f" ]; then
            other="${target%/etc/$f}"  # another checkout's local SLURM: taken over where its daemons are gone
            [ -L "/etc/slurm/$f" ] && [ "$other" != "$target" ] && [ "$(basename "$other")" = .slurm-local ] ||
                fail "/etc/slurm/$f exists and is not ours (a real SLURM here?): move it away to use the local one"
            if [ -f "$other/run/slurmctld.pid" ] && kill -0 "$(cat "$other/run/slurmctld.pid")" 2> /dev/null; then
                fail "the local SLURM of another checkout runs ($other): stop it first (SLURM_LOCAL_DIR=$other $0 stop)"
            fi
            say "/etc/slurm/$f pointed at a stopped local SLURM ($other, its run ended without stop): replaced"
        fi
        ln -sfn "$S/etc/$f" "/etc/slurm/$f" || fail "cannot link /etc/slurm/$f (not root?)"
    done
}

unlink_default_conf() {
    local f
    for f in slurm.conf gres.conf slurmdbd.conf; do
        [ "$(readlink "/etc/slurm/$f" 2> /dev/null)" = "$S/etc/$f" ] && rm -f "/etc/slurm/$f"
    done
    return 0
}

nodes_idle() { [ "$(sinfo -h -N -p gpu -o '%t' | grep -cE '^(idle|mix|alloc)$')" = 2 ]; }

status() {
    export PATH="$PATH:/usr/sbin"
    local d ok=0
    for d in munged mariadbd slurmdbd slurmctld slurmd.n1 slurmd.n2; do
        if alive "$d"; then echo "$d: running (pid $(cat "$S/run/$d.pid"))"; else echo "$d: not running"; ok=1; fi
    done
    [ $ok = 0 ] && nodes_idle && sinfo -N -o '%N %P %t %G' && return 0
    [ -f "$S/unavailable" ] && echo "unavailable: $(cat "$S/unavailable")"
    return 1
}

stop() {
    export PATH="$PATH:/usr/sbin"
    if alive slurmctld; then
        scancel --full --quiet --user=root 2> /dev/null || true
        for _ in $(seq 40); do [ -z "$(squeue -h -o %i 2> /dev/null)" ] && break; sleep 0.25; done
    fi
    local d pid
    for d in slurmd.n1 slurmd.n2 slurmctld slurmdbd mariadbd munged; do
        alive "$d" || continue
        pid=$(cat "$S/run/$d.pid")
        kill "$pid"
        for _ in $(seq 80); do kill -0 "$pid" 2> /dev/null || break; sleep 0.25; done
        if kill -0 "$pid" 2> /dev/null; then say "$d ($pid) still running after 20 s: SIGKILL"; kill -9 "$pid"; fi
        rm -f "$S/run/$d.pid"
    done
    unlink_default_conf
    say "stopped"
}

case "${1:-}" in
    install) mkdir -p "$S"; install ;;
    start) start ;;
    stop) stop ;;
    status) status ;;
    env) echo "export SLURM_CONF=$SLURM_CONF" ;;
    *) echo "usage: $0 install|start|status|stop|env" >&2; exit 2 ;;
esac
