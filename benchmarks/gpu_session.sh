#!/usr/bin/env bash
# The one command a session lent a GPU runs (issue 21): every GPU check, inside BUDGET_S
# seconds (480 by default: leaves room in one 600 s device call), results in $OUT.
# Installs seqbench from this working tree without dependencies; the image's torch stays.
#   run(command="bash benchmarks/gpu_session.sh", timeout_s=570)
set -u
cd "$(dirname "$0")/.."
exec python3 benchmarks/gpu_session.py --out "${OUT:-results/gpu_session}" --budget-s "${BUDGET_S:-480}" "$@"
