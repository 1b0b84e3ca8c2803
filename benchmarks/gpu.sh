#!/usr/bin/env bash
# GPU benchmark: MRC depth 6 vs spatial on full 768x512 Kodak images, 4 lambdas, the paper's
# architecture, intra preset. Uses CUDA when present (falls back to the CPU, very slowly).
#   benchmarks/gpu.sh [KODAK_DIR] [OUT] [N_ITR] [WORKERS] [NAMES]
# NAMES is a comma-separated subset (default: all 24 images). Resumable.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
images="${1:-$here/../../shared/data/kodak}"
out="${2:-$here/results/gpu-kodak}"
n_itr="${3:-10000}"
workers="${4:-4}"
names=()
[ -n "${5:-}" ] && names=(--names "$5")
exec mrc-coolchic ab --images "$images" "${names[@]}" --lmbda 0.02,0.004,0.001,0.0004 \
    --n_itr "$n_itr" --preset intra --dec_cfg paper --a spatial --b mrc:depth=6 --seed 0 \
    --device auto --workers "$workers" --out "$out"
