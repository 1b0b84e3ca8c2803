#!/usr/bin/env bash
# Issue 17: RD of the C kernels against torch's operators on four more crops (kodim01, 07, 15, 20), two lambdas,
# hop, 2000 iterations, intra; seed 1, then seed 0 while time lasts; 2 workers x 1 thread, one crop per ab run.
# Our side from a worktree of d962f5f on PYTHONPATH, so that edits in /work/main do not reach the run.
set -uo pipefail
export PATH=/work/venv/bin:$PATH PYTHONPATH=/work/rd3-src/vendor:/work/rd3-src
cd /tmp
for seed in 1 0; do
for name in kodim01 kodim07 kodim15 kodim20; do
  echo "start $name seed $seed $(date -u +%FT%TZ) commit $(git -C /work/rd3-src rev-parse --short HEAD) (worktree /work/rd3-src) venv /work/venv" >> /work/bench/native-rd3/run.meta
  mrc-coolchic ab --images /work/bench/hvu-images6 --names $name --lmbda 0.004,0.001 \
    --n_itr 2000 --preset intra --dec_cfg hop --a spatial@cpu_kernels=torch --b spatial \
    --seed $seed --device cpu --workers 2 --threads 1 --out /work/bench/native-rd3/out-$name-s$seed
  echo "end $name seed $seed $(date -u +%FT%TZ) exit $?" >> /work/bench/native-rd3/run.meta
done
done
