#!/usr/bin/env bash
# A small A/B on a folder of generated images: spatial vs MRC depth 6, two lambdas.
#   examples/ab.sh [OUT_DIR] [SIZE] [N_ITR] [WORKERS] [IMAGES]   (defaults: mrc-ab 96 2000 2 3)
set -euo pipefail
out="${1:-mrc-ab}"; size="${2:-96}"; n_itr="${3:-2000}"; workers="${4:-2}"
n_images="${5:-3}"
[[ "$n_images" =~ ^[1-9][0-9]*$ ]] || { echo "ab.sh: IMAGES must be a positive integer, not '$n_images'" >&2; exit 2; }
python="${PYTHON:-python3}"
preset=intra; [ "$n_itr" -lt 2000 ] && preset=fast
mkdir -p "$out/images"
"$python" -c "from coolchic.imageio import demo_image, save_png
for seed in range($n_images):
    save_png(demo_image($size, $size, seed=seed), f'$out/images/generated{seed}.png')"

mrc-coolchic ab --images "$out/images" --lmbda 0.004,0.001 --n_itr "$n_itr" --preset "$preset" \
    --dec_cfg paper --a spatial --b mrc:depth=6 --workers "$workers" --out "$out/results"

# summary.json: the headline numbers (negative BD-rate: MRC needs less rate).
"$python" - "$out/results/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
pct = lambda v: "n/a (curves do not overlap)" if v is None else f"{v:+.2f}%"
print(f"BD-rate {s['candidate']} vs {s['reference']}: {pct(s['bd_rate_percent'])} "
      f"(latents only {pct(s['bd_rate_latent_percent'])})")
for image, value in s["per_image_bd_rate_percent"].items():
    print(f"  {image}: {pct(value)}")
PY
echo "curves: $out/results/rd.png; per image: $out/results/per_image.csv"
