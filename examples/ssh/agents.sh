#!/usr/bin/env bash
# One yolosweep agent per GPU on each host, started over ssh, all against one PostgreSQL store.
#   export YOLOSWEEP_STORE=postgresql://USER@DBHOST/yolosweep   # its password in ~/.pgpass on every host
#   examples/ssh/agents.sh SWEEP_ID gpu1:0,1 gpu2:0,1,2,3        # HOST:GPU,GPU ...
# Each host needs the project folder at the same path (a shared file system or a copy) and yolosweep installed.
# The agents keep running after ssh returns; their output goes to yolosweep-agent-HOST-GPU.log in that folder.
set -euo pipefail
: "${YOLOSWEEP_STORE:?set YOLOSWEEP_STORE=postgresql://USER@HOST/DB (the store every host reaches)}"
sweep_id="${1:?usage: agents.sh SWEEP_ID HOST:GPU[,GPU...] ...}"
shift
folder="${YOLOSWEEP_DIR:-$PWD}"
for entry in "$@"; do
    host="${entry%%:*}"
    IFS=, read -r -a gpus <<< "${entry#*:}"
    for gpu in "${gpus[@]}"; do
        ${SSH:-ssh} -n "$host" "cd '$folder' && CUDA_VISIBLE_DEVICES=$gpu YOLOSWEEP_STORE='$YOLOSWEEP_STORE' \
            nohup ${PYTHON:-python} -m yolosweep agent $sweep_id > yolosweep-agent-$host-$gpu.log 2>&1 < /dev/null &"
        echo "started an agent on $host, GPU $gpu"
    done
done
