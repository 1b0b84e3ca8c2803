#!/usr/bin/env bash
# Issue 15: seed 0 for our defaults vs upstream 5.0.1 on kodim10's confirmation crop (session 3, 2026-11-28).
# Same settings as kodim06's run; our side from a worktree of 9bf7fb4 on PYTHONPATH, so that edits in /work/main do not reach the run.
set -uo pipefail
echo "start $(date -u +%FT%TZ) commit $(git -C /work/seed0-src rev-parse --short HEAD) (worktree /work/seed0-src) venv /work/venv seed 0 kodim10" >> /work/bench/seed0/run.meta
export PATH=/work/venv/bin:$PATH PYTHONPATH=/work/seed0-src/vendor:/work/seed0-src:/work/shared/tools/upstream-shim
cd /tmp
mrc-coolchic ab --images /work/bench/confirm-images6 --names kodim10 --lmbda 0.02,0.004,0.001,0.0004 \
  --n_itr 2000 --preset intra --dec_cfg hop --a upstream/spatial --b spatial --upstream /work/upstream-v5.0.1 \
  --seed 0 --device cpu --workers 1 --threads 1 --out /work/bench/seed0/out10
echo "end $(date -u +%FT%TZ) exit $?" >> /work/bench/seed0/run.meta
