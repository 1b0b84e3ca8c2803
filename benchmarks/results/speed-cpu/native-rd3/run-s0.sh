#!/usr/bin/env bash
# The seed-0 half of run.sh, for the crops time allows (kodim01, kodim07), same code (worktree of d962f5f).
set -uo pipefail
export PATH=/work/venv/bin:$PATH PYTHONPATH=/work/rd3-src/vendor:/work/rd3-src
cd /tmp
seed=0
for name in kodim01 kodim07; do
  echo "start $name seed $seed $(date -u +%FT%TZ) commit $(git -C /work/rd3-src rev-parse --short HEAD) (worktree /work/rd3-src) venv /work/venv" >> /work/bench/native-rd3/run-s0.meta
  mrc-coolchic ab --images /work/bench/hvu-images6 --names $name --lmbda 0.004,0.001 \
    --n_itr 2000 --preset intra --dec_cfg hop --a spatial@cpu_kernels=torch --b spatial \
    --seed $seed --device cpu --workers 2 --threads 1 --out /work/bench/native-rd3/out-$name-s$seed
  echo "end $name seed $seed $(date -u +%FT%TZ) exit $?" >> /work/bench/native-rd3/run-s0.meta
done
