#!/usr/bin/env bash
# Spatial (default) encodes of the 6 tuning crops at lambdas 0.004 and 0.001, seed 1, hop.cfg, intra 2000:
# the latents the context refit screens read. Code dfbd9a7 (non-editable venv /work/benchenv), 2 at a time.
set -uo pipefail
cd /work/bench/refit
echo "start $(date -u +%FT%TZ) commit dfbd9a7" >> encode.meta
for l in 0.004 0.001; do for n in 01 05 07 15 20 23; do echo "$n $l"; done; done | \
  xargs -P 2 -n 2 sh -c '/work/benchenv/bin/mrc-coolchic encode -i /work/bench/hvu-images6/kodim$0.png -o kodim$0-$1.cool --results kodim$0-$1.json --dec_cfg hop --lmbda $1 --n_itr 2000 --preset intra --seed 1 --device cpu --threads 1 --quiet'
echo "end $(date -u +%FT%TZ) exit $?" >> encode.meta
