#!/usr/bin/env bash
# One training iteration with --keep_memory off and on (coolchic/heap.py), alternating, at three
# sizes of one image: time, page faults per iteration and peak memory (profile_step.py; spatial,
# hop.cfg, 1 thread).
#   benchmarks/keep-memory.sh IMAGE OUT_FOLDER     (IMAGE: a Kodak PNG, 768x512)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
image="${1:?give a PNG image}"
out="${2:?give an output folder}"
mkdir -p "$out"
python3 "$here/speed.py" crop "$image" "$out/256.png" --size 256
python3 "$here/speed.py" crop "$image" "$out/2048.png" --size 2048
cp "$image" "$out/full.png"
run() {  # NAME STEPS SETTING
    echo "== $1 keep_memory $3 $(date -u +%T)"
    python3 "$here/profile_step.py" "$out/$1.png" --steps "$2" --rows 0 --keep_memory "$3" 2>&1 |
        grep -v USDT | sed -n 1,2p
}
for name in 256 full; do for setting in off on on off; do run "$name" 10 "$setting"; done; done
for setting in off on; do run 2048 2 "$setting"; done
echo "== end $(date -u +%T)"
