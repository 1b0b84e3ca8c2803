#!/usr/bin/env bash
# Issue 15: latent RDOQ (1 sweep, the new default) on our spatial host against upstream 5.0.1, seed 1, the
# 6 odd Kodak crops (tuning set); upstream jobs reused from the seed-1 parity run (same keys). Training is
# bit-exact with the parity run's spatial jobs, so against those the difference is latent RDOQ alone.
set -uo pipefail
echo "start $(date -u +%FT%TZ) commit 842180c venv /work/benchenv10 seed 1" >> /work/bench/i15-lrdoq.meta
export PATH=/work/benchenv10/bin:$PATH PYTHONPATH=/work/shared/tools/upstream-shim
mrc-coolchic ab --images /work/bench/hvu-images6 --lmbda 0.02,0.004,0.001,0.0004 --n_itr 2000 --preset intra \
  --dec_cfg hop --a upstream/spatial --b spatial --upstream /work/upstream-v5.0.1 \
  --upstream-python /work/benchenv6/bin/python --seed 1 --device cpu --workers 2 --threads 1 \
  --out /work/bench/i15-lrdoq-seed1
echo "end $(date -u +%FT%TZ) exit $?" >> /work/bench/i15-lrdoq.meta
