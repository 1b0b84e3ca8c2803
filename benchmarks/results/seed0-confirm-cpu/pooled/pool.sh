#!/usr/bin/env bash
# Every pooled figure of this folder, from the ab runs' own tables (no copies of their rows).
# Run from anywhere; writes pooled/*.txt and pooled/*.json. Seed 0: kodim02 (this folder), kodim06,
# kodim10; seed 1: ../nn-coding-cpu/fresh-confirmation, only the same crops.
set -euo pipefail
cd "$(dirname "$0")/.."
pool() { out=$1; shift; python ../../pool_runs.py upstream-spatial spatial "$@" --json "pooled/$out.json" | tee "pooled/$out.txt"; }
S1=../nn-coding-cpu/fresh-confirmation
pool pooled-kodim06 $S1 kodim06 --names kodim06
pool seed0-two-crops .+kodim06
pool seed1-two-crops $S1 --names kodim02,kodim06
pool pooled-two-crops $S1 .+kodim06 --names kodim02,kodim06
pool seed0-three-crops .+kodim06+kodim10
pool seed1-three-crops $S1 --names kodim02,kodim06,kodim10
pool pooled-three-crops $S1 .+kodim06+kodim10 --names kodim02,kodim06,kodim10
