#!/usr/bin/env bash
# Issue 17 memory criterion: one whole 2048x2048 encode to its file on the CPU (fast preset,
# 40 iterations, hop.cfg, lambda 0.004, seed 0, 1 thread, --network_rdoq off --latent_rdoq 0:
# both RDOQ passes take hours at this size on one core; C kernels, the default), then its
# decode; peaks by time -v. Our code from the worktree /work/native-src.
set -uo pipefail
cd /work/bench/big
export PATH=/work/venv/bin:$PATH PYTHONPATH=/work/native-src/vendor:/work/native-src
echo "start $(date -u +%FT%TZ) commit $(git -C /work/native-src rev-parse --short HEAD) (worktree /work/native-src)" > run3.meta
/usr/bin/time -v mrc-coolchic encode -i 2048.png -o 2048.cool --dec_cfg hop --preset fast \
  --n_itr 40 --lmbda 0.004 --seed 0 --device cpu --threads 1 --network_rdoq off --latent_rdoq 0 \
  --results encode3.json > encode3.log 2> encode3.time
status=$?
echo "encoded $(date -u +%FT%TZ) exit $status" >> run3.meta
[ $status -eq 0 ] || exit $status
/usr/bin/time -v mrc-coolchic decode -i 2048.cool -o 2048-decoded.png \
  --results decode3.json > decode3.log 2> decode3.time
echo "decoded $(date -u +%FT%TZ) exit $?" >> run3.meta
