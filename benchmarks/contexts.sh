#!/usr/bin/env bash
# Issue 15: context variants of our host against its spatial context (Cool-chic 5.0.1's,
# at parity with upstream: benchmarks/results/host-vs-upstream-hop6-seed1-cpu), upstream's
# hop.cfg, all in one ab output folder (the spatial jobs are encoded once and shared).
#   benchmarks/contexts.sh IMAGES OUT N_ITR WORKERS DEVICE SEED VARIANT...
# e.g. benchmarks/contexts.sh crops out 2000 8 cuda 0 mrc:depth=6 mrc:depth=2 spatial+mrc \
#          spatial@rate_floor_bits=24
# Each VARIANT runs as `ab --a spatial --b VARIANT` (lambdas 0.02,0.004,0.001,0.0004, intra
# preset); then benchmarks/compare_runs.py prints every variant's BD-rate against spatial and
# writes OUT/contexts.json. Resumable: rerun the same command.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
images="${1:?give a folder of PNG images}"
out="${2:?give an output folder}"
n_itr="${3:?give the iterations}"
workers="${4:?give the workers}"
device="${5:?give the device}"
seed="${6:?give the seed}"
shift 6
[ $# -ge 1 ] || { echo "contexts.sh: give at least one variant" >&2; exit 2; }
labels=()
for variant in "$@"; do
    mrc-coolchic ab --images "$images" --lmbda 0.02,0.004,0.001,0.0004 --n_itr "$n_itr" \
        --preset intra --dec_cfg hop --a spatial --b "$variant" --seed "$seed" \
        --device "$device" --workers "$workers" --out "$out" || echo "ab $variant: exit $?" >&2
    labels+=("$out/$(python3 -c 'import sys; from coolchic.ab.variants import Variant; print(Variant.parse(sys.argv[1]).label)' "$variant")")
done
python3 "$here/compare_runs.py" "$out/spatial" "${labels[@]}" --json "$out/contexts.json"
