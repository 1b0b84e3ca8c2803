#!/usr/bin/env bash
# Quick CPU benchmark: MRC depth 6 vs Cool-chic's spatial context on 6 Kodak 256x256 centre
# crops, 4 lambdas, the paper's architecture (ARM 32,2, v4 hop synthesis), intra preset at
# the minimum 2000 iterations, seed 0. 48 encodes + decodes; about 2.5 hours on 2 CPU cores
# (2 workers x 1 thread). Resumable: rerun the same command to finish an interrupted run.
#   benchmarks/quick.sh [KODAK_CROPS_DIR] [OUT]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
images="${1:-$here/../../shared/data/kodak-crop256}"
out="${2:-$here/results/quick-cpu}"
exec mrc-coolchic ab --images "$images" --names kodim01,kodim05,kodim07,kodim15,kodim20,kodim23 \
    --lmbda 0.02,0.004,0.001,0.0004 --n_itr 2000 --preset intra --dec_cfg paper \
    --a spatial --b mrc:depth=6 --seed 0 --device cpu --workers 2 --threads 1 --out "$out"
