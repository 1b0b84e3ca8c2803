#!/usr/bin/env bash
# Quick CPU benchmark against genuine upstream: Cool-chic 5.0.1 vs Cool-chic 5.0.1 + MRC depth 6
# (patches/coolchic-v5.0.1.patch, the same code but the context), on 6 Kodak 256x256 centre
# crops, 4 lambdas, upstream's own hop.cfg (14 contexts, IFCE, hyperlatents), its intra preset at
# the minimum 2000 iterations, seed 0. 48 encodes + decodes with upstream's cc_encode.py and
# cc_decode.py; about 3 hours on 2 CPU cores (2 workers x 1 thread). Resumable.
#   benchmarks/upstream-quick.sh UPSTREAM_CHECKOUT [KODAK_CROPS_DIR] [OUT]
# UPSTREAM_CHECKOUT: an unpatched v5.0.1 checkout (default $COOLCHIC_SRC); it is only read.
# Without the real torchvision, put a stand-in on PYTHONPATH (patches/README.md).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
upstream="${1:-${COOLCHIC_SRC:?give an upstream Cool-chic 5.0.1 checkout}}"
images="${2:-$here/../../shared/data/kodak-crop256}"
out="${3:-$here/results/upstream-quick-cpu}"
exec mrc-coolchic ab --images "$images" --names kodim01,kodim05,kodim07,kodim15,kodim20,kodim23 \
    --lmbda 0.02,0.004,0.001,0.0004 --n_itr 2000 --preset intra --dec_cfg hop \
    --a upstream/spatial --b upstream/mrc:depth=6 --upstream "$upstream" --seed 0 --device cpu \
    --workers 2 --threads 1 --out "$out"
