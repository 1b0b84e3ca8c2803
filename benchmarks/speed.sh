#!/usr/bin/env bash
# Encode speed and memory: our host against genuine upstream Cool-chic 5.0.1 in the same run,
# then our host alone against image size and beside a busy process.
#   benchmarks/speed.sh UPSTREAM_CHECKOUT IMAGE OUT [N_ITR] [SIZES]
# 1. OUT/pair-cpu (and OUT/pair-cuda when CUDA is present): `ab` on a 256x256 centre crop of
#    IMAGE, upstream's hop.cfg, intra preset, N_ITR iterations (default 2000), lambda 0.004,
#    one job at a time with every core: summary.json has the encode wall-time
#    ratio (ours / upstream's) and each host's peak resident memory.
# 2. OUT/sizes.json: our encode at each of SIZES (default 256,512,1024,2048; fast preset,
#    40 iterations): wall time and peak memory.
# 3. OUT/load.json: spatial and MRC at 256x256 (fast preset, 200 iterations), alone and beside
#    one busy process, with one thread (the default) and with every core (--threads 0).
# Without the real torchvision, put a stand-in on PYTHONPATH (patches/README.md).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
upstream="${1:?give an upstream Cool-chic 5.0.1 checkout}"
image="${2:?give a PNG image}"
out="${3:?give an output folder}"
n_itr="${4:-2000}"
sizes="${5:-256,512,1024,2048}"
mkdir -p "$out/crop"
python3 "$here/speed.py" crop "$image" "$out/crop/$(basename "$image" .png).png" --size 256
devices=(cpu)
python3 -c 'import sys, torch; sys.exit(not torch.cuda.is_available())' && devices+=(cuda)
for device in "${devices[@]}"; do
    mrc-coolchic ab --images "$out/crop" --lmbda 0.004 --n_itr "$n_itr" --preset intra \
        --dec_cfg hop --a upstream/spatial --b spatial --upstream "$upstream" --seed 0 \
        --device "$device" --workers 1 --out "$out/pair-$device"
done
python3 "$here/speed.py" sizes "$image" "$out/sizes.json" --sizes "$sizes"
python3 "$here/speed.py" load "$image" "$out/load.json"
