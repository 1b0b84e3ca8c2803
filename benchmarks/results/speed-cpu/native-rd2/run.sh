#!/usr/bin/env bash
# Issue 17: RD of the C kernels against torch's operators on a second crop (kodim05), two lambdas only
# (the time left in the session); hop, 2000 iterations, intra, seed 1; 2 workers x 1 thread. Our side at 4596e7c.
set -uo pipefail
echo "start $(date -u +%FT%TZ) commit $(git -C /work/main rev-parse --short HEAD) (/work/main, code as 4596e7c) venv /work/venv" >> /work/bench/native-rd2/run.meta
export PATH=/work/venv/bin:$PATH
cd /tmp
mrc-coolchic ab --images /work/bench/hvu-images6 --names kodim05 --lmbda 0.004,0.001 \
  --n_itr 2000 --preset intra --dec_cfg hop --a spatial@cpu_kernels=torch --b spatial \
  --seed 1 --device cpu --workers 2 --threads 1 --out /work/bench/native-rd2/out
echo "end $(date -u +%FT%TZ) exit $?" >> /work/bench/native-rd2/run.meta
