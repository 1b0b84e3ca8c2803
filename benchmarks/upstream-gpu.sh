#!/usr/bin/env bash
# GPU benchmark against genuine upstream: Cool-chic 5.0.1 vs Cool-chic 5.0.1 + MRC depth 6 on
# full 768x512 Kodak images, 4 lambdas, upstream's hop.cfg, its intra preset (10 000 iterations
# by default, upstream's own default), seed 0. Uses CUDA when present (the CPU otherwise, very
# slowly). Resumable.
#   benchmarks/upstream-gpu.sh UPSTREAM_CHECKOUT [KODAK_DIR] [OUT] [N_ITR] [WORKERS] [NAMES]
# NAMES is a comma-separated subset (default: all 24 images).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
upstream="${1:-${COOLCHIC_SRC:?give an upstream Cool-chic 5.0.1 checkout}}"
images="${2:-$here/../../shared/data/kodak}"
out="${3:-$here/results/upstream-gpu-kodak}"
n_itr="${4:-10000}"
workers="${5:-4}"
names=()
[ -n "${6:-}" ] && names=(--names "$6")
exec mrc-coolchic ab --images "$images" "${names[@]}" --lmbda 0.02,0.004,0.001,0.0004 \
    --n_itr "$n_itr" --preset intra --dec_cfg hop --a upstream/spatial --b upstream/mrc:depth=6 \
    --upstream "$upstream" --seed 0 --device auto --workers "$workers" --out "$out"
