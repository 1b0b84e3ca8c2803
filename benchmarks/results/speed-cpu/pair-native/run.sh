#!/usr/bin/env bash
# Issue 17: same-run encode time, ours (614633a: C kernels, the default) vs upstream 5.0.1, hop.cfg, 2000
# iterations, intra, the kodim05 and kodim23 256x256 crops at lambda 0.004, seed 1 (speed-cpu's pair-v4
# settings), 1 worker x 1 thread, beside the native-rd run on the other core (so every job runs beside one other).
set -uo pipefail
echo "start $(date -u +%FT%TZ) commit $(git -C /work/native-src rev-parse --short HEAD) (worktree /work/native-src) venv /work/venv seed 1" >> /work/bench/native-pair/run.meta
export PATH=/work/venv/bin:$PATH PYTHONPATH=/work/native-src/vendor:/work/native-src:/work/shared/tools/upstream-shim
cd /tmp
mrc-coolchic ab --images /work/bench/hvu-images6 --names kodim05,kodim23 --lmbda 0.004 --n_itr 2000 \
  --preset intra --dec_cfg hop --a upstream/spatial --b spatial --upstream /work/upstream-v5.0.1 \
  --seed 1 --device cpu --workers 1 --threads 1 --out /work/bench/native-pair/out
echo "end $(date -u +%FT%TZ) exit $?" >> /work/bench/native-pair/run.meta
