#!/usr/bin/env bash
# Every pooled figure of this folder, from the ab runs' own tables (no copies of their rows).
# Run from anywhere; writes pooled/*.txt and pooled/*.json. Seed 0: kodim02 (this folder), kodim06,
# kodim10, kodim14 and kodim18 (kodim14-18); seed 1: ../nn-coding-cpu/fresh-confirmation, only the same crops.
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
# Fourth session: kodim14 and kodim18 with seed 0 (kodim14-18/), five crops of six.
pool seed0-kodim14-18 kodim14-18
pool seed1-kodim14-18 $S1 --names kodim14,kodim18
pool pooled-kodim14-18 $S1 kodim14-18 --names kodim14,kodim18
pool seed0-five-crops .+kodim06+kodim10+kodim14-18
pool seed1-five-crops $S1 --names kodim02,kodim06,kodim10,kodim14,kodim18
pool pooled-five-crops $S1 .+kodim06+kodim10+kodim14-18 --names kodim02,kodim06,kodim10,kodim14,kodim18
