#!/usr/bin/env bash
# Issue 15: a second seed (0) for our defaults vs upstream 5.0.1 on 2 of the 6 confirmation crops
# (kodim02, kodim06: the first two by name), 4 lambdas, hop.cfg, 2000 iterations, intra. Session 2: workers 1 (a 2048 encode on the other core).
# Session 2 (2026-11-28, 10:5x UTC): kodim06 only, in out06/ (ab keys jobs by a hash of the package sources; the ab/ changes since would re-run kodim02).
set -uo pipefail
echo "start $(date -u +%FT%TZ) commit $(git -C /work/main rev-parse --short HEAD) venv /work/venv seed 0" >> /work/bench/seed0/run.meta
export PATH=/work/venv/bin:$PATH PYTHONPATH=/work/shared/tools/upstream-shim
mrc-coolchic ab --images /work/bench/confirm-images6 --names kodim06 --lmbda 0.02,0.004,0.001,0.0004 \
  --n_itr 2000 --preset intra --dec_cfg hop --a upstream/spatial --b spatial --upstream /work/upstream-v5.0.1 \
  --seed 0 --device cpu --workers 1 --threads 1 --out /work/bench/seed0/out06
echo "end $(date -u +%FT%TZ) exit $?" >> /work/bench/seed0/run.meta
