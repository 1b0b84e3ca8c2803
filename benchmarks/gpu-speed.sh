#!/usr/bin/env bash
# One GPU call: our training iteration (eager and CUDA graph, spatial and MRC) against upstream
# Cool-chic 5.0.1's compiled iteration, same image, same machine, then the ratio.
#   benchmarks/gpu-speed.sh UPSTREAM_CHECKOUT IMAGE OUT [UPSTREAM_SECONDS]
# UPSTREAM_SECONDS (default 150) bounds upstream's encode (hop.cfg, 2000 iterations, lambda 0.001):
# its main phase is compiled (more than 1000 iterations) and timed from its log
# (benchmarks/upstream_log.py). Ours: benchmarks/step_speed.py, 400 main-phase iterations.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
upstream="$(cd "${1:?give an upstream Cool-chic 5.0.1 checkout}" && pwd)"
image="$(cd "$(dirname "${2:?give a PNG image}")" && pwd)/$(basename "$2")"
out="${3:?give an output folder}"
seconds="${4:-150}"
mkdir -p "$out/upstream-work"
out="$(cd "$out" && pwd)"
for provider in spatial mrc; do
    python3 "$here/step_speed.py" "$image" --steps 400 --device cuda --lmbda 0.001 \
        --context_provider "$provider" --json "$out/ours-$provider.json" || exit 1
done
(cd "$upstream" && timeout "$seconds" python3 cc_encode.py -i "$image" -o "$out/upstream-work/u.cool" \
    --workdir "$out/upstream-work" --dec_cfg_residue cfg/dec/intra/hop.cfg --n_itr 2000 \
    --lmbda 0.001 > "$out/upstream.log" 2>&1)
python3 "$here/upstream_log.py" "$out/upstream.log" | tee "$out/upstream.txt" || exit 1
python3 - "$out" <<'PY'
import json, re, sys
from pathlib import Path
out = Path(sys.argv[1])
theirs = float(re.match(r"([0-9.]+) ms", (out / "upstream.txt").read_text()).group(1))
for provider in ("spatial", "mrc"):
    for row in json.loads((out / f"ours-{provider}.json").read_text()):
        print(f"ours {provider} {row['mode']}: {row['ms_per_iteration']:.2f} ms/iteration, "
              f"{row['ms_per_iteration'] / theirs:.3f}x upstream's {theirs:.2f}")
PY
