#!/usr/bin/env bash
# Issue 15 tuning set with bitstream version 4 (0d0adb9): the 6 odd Kodak 256x256 crops, our host's spatial
# (defaults) against upstream 5.0.1; upstream's 24 jobs copied from i15-lrdoq-seed1 (same checkout, settings,
# seed: ab skips them), ours encoded afresh.
set -uo pipefail
echo "start $(date -u +%FT%TZ) commit 0d0adb9 venv /work/benchenv11 seed 1" >> /work/bench/i15-v4-tune.meta
export PATH=/work/benchenv11/bin:$PATH PYTHONPATH=/work/shared/tools/upstream-shim
mrc-coolchic ab --images /work/bench/hvu-images6 --lmbda 0.02,0.004,0.001,0.0004 --n_itr 2000 --preset intra \
  --dec_cfg hop --a upstream/spatial --b spatial --upstream /work/upstream-v5.0.1 \
  --upstream-python /work/benchenv6/bin/python --seed 1 --device cpu --workers 2 --threads 1 \
  --out /work/bench/i15-v4-tune-seed1
echo "end $(date -u +%FT%TZ) exit $?" >> /work/bench/i15-v4-tune.meta
