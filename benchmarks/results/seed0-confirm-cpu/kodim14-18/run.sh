#!/usr/bin/env bash
# Issue 15: seed 0 for our defaults vs upstream 5.0.1 on kodim14's and kodim18's confirmation crops (session 4, 2026-11-28).
# Same settings as kodim02's, kodim06's and kodim10's runs; our side from a worktree of 1e7bb63 on PYTHONPATH, so that edits in /work/main do not reach the run.
set -uo pipefail
echo "start $(date -u +%FT%TZ) commit $(git -C /work/seed0-src rev-parse --short HEAD) (worktree /work/seed0-src) venv /work/venv seed 0 kodim14 kodim18" >> /work/bench/seed0b/run.meta
export PATH=/work/venv/bin:$PATH PYTHONPATH=/work/seed0-src/vendor:/work/seed0-src:/work/shared/tools/upstream-shim
cd /tmp
mrc-coolchic ab --images /work/bench/confirm-images6 --names kodim14,kodim18 --lmbda 0.02,0.004,0.001,0.0004 \
  --n_itr 2000 --preset intra --dec_cfg hop --a upstream/spatial --b spatial --upstream /work/upstream-v5.0.1 \
  --seed 0 --device cpu --workers 2 --threads 1 --out /work/bench/seed0b/out
echo "end $(date -u +%FT%TZ) exit $?" >> /work/bench/seed0b/run.meta
