#!/usr/bin/env bash
# Issue 17: RD of our encoder with the C kernels (native, default) against torch's operators, same
# everything else: hop, 2000 iterations, intra, seed 1, kodim23's 256x256 crop, 4 lambdas; 1 worker x 1 thread.
# Our side from a worktree of 614633a on PYTHONPATH, so that edits in /work/main do not reach the run.
set -uo pipefail
echo "start $(date -u +%FT%TZ) commit $(git -C /work/native-src rev-parse --short HEAD) (worktree /work/native-src) venv /work/venv" >> /work/bench/native-rd/run.meta
export PATH=/work/venv/bin:$PATH PYTHONPATH=/work/native-src/vendor:/work/native-src
cd /tmp
mrc-coolchic ab --images /work/bench/hvu-images6 --names kodim23 --lmbda 0.02,0.004,0.001,0.0004 \
  --n_itr 2000 --preset intra --dec_cfg hop --a spatial@cpu_kernels=torch --b spatial \
  --seed 1 --device cpu --workers 1 --threads 1 --out /work/bench/native-rd/out
echo "end $(date -u +%FT%TZ) exit $?" >> /work/bench/native-rd/run.meta
