#!/usr/bin/env bash
# Issue 15 confirmation set: the 6 even Kodak 256x256 crops (kodim02, 06, 10, 14, 18, 22), our host's spatial
# with --latent_rdoq 1 (the default at 842180c: the best configuration found on the tuning set) against upstream 5.0.1.
set -uo pipefail
echo "start $(date -u +%FT%TZ) commit 842180c venv /work/benchenv10 seed 1" >> /work/bench/i15-confirm.meta
export PATH=/work/benchenv10/bin:$PATH PYTHONPATH=/work/shared/tools/upstream-shim
mrc-coolchic ab --images /work/bench/confirm-images6 --lmbda 0.02,0.004,0.001,0.0004 --n_itr 2000 --preset intra \
  --dec_cfg hop --a upstream/spatial --b spatial --upstream /work/upstream-v5.0.1 \
  --upstream-python /work/benchenv6/bin/python --seed 1 --device cpu --workers 2 --threads 1 \
  --out /work/bench/i15-confirm-seed1
echo "end $(date -u +%FT%TZ) exit $?" >> /work/bench/i15-confirm.meta
