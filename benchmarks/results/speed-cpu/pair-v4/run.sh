#!/usr/bin/env bash
# Issue 17: same-run encode time, ours (0d0adb9, defaults: latent RDOQ on, bitstream v4) vs upstream 5.0.1,
# hop.cfg, 2000 iterations, 2 crops at lambda 0.004, 2 workers x 1 thread (as speed-cpu's pair-2workers).
set -uo pipefail
echo "start $(date -u +%FT%TZ) commit 0d0adb9 venv /work/benchenv11 seed 1" >> /work/bench/speed-v4.meta
export PATH=/work/benchenv11/bin:$PATH PYTHONPATH=/work/shared/tools/upstream-shim
mrc-coolchic ab --images /work/bench/hvu-images6 --names kodim05,kodim23 --lmbda 0.004 --n_itr 2000 \
  --preset intra --dec_cfg hop --a upstream/spatial --b spatial --upstream /work/upstream-v5.0.1 \
  --upstream-python /work/benchenv6/bin/python --seed 1 --device cpu --workers 2 --threads 1 \
  --out /work/bench/speed-v4
echo "end $(date -u +%FT%TZ) exit $?" >> /work/bench/speed-v4.meta
