#!/usr/bin/env bash
# Encode and decode a generated image with the hop config, then again with MRC switched
# on in a copy of that config; print sizes, PSNRs and the rate change.
#   examples/encode_decode.sh [OUT_DIR] [SIZE] [N_ITR]      (defaults: mrc-example 256 2000)
set -euo pipefail
out="${1:-mrc-example}"; size="${2:-256}"; n_itr="${3:-2000}"
python="${PYTHON:-python3}"
preset=intra; [ "$n_itr" -lt 2000 ] && preset=fast   # intra needs 2000 iterations or more
mkdir -p "$out"

# A generated photo-like image, so the example needs no download.
"$python" -c "from coolchic.imageio import demo_image, save_png
save_png(demo_image($size, $size * 3 // 2), '$out/image.png')"

# 1. Cool-chic's own context (spatial), shipped hop config.
mrc-coolchic encode -i "$out/image.png" -o "$out/spatial.cool" --dec_cfg hop --lmbda 0.001 \
    --preset "$preset" --n_itr "$n_itr" --results "$out/spatial.json" --quiet
mrc-coolchic decode -i "$out/spatial.cool" -o "$out/spatial.png"

# 2. The same config plus the two MRC lines.
"$python" -c "from coolchic.config import shipped_config; print(shipped_config('hop').read_text())" \
    > "$out/hop-mrc.cfg"
printf 'context_provider = mrc\nmrc_depth = 6\n' >> "$out/hop-mrc.cfg"
mrc-coolchic encode -i "$out/image.png" -o "$out/mrc.cool" --dec_cfg "$out/hop-mrc.cfg" \
    --lmbda 0.001 --preset "$preset" --n_itr "$n_itr" --results "$out/mrc.json" --quiet
mrc-coolchic decode -i "$out/mrc.cool" -o "$out/mrc.png"     # no flag: the header says mrc

"$python" - "$out" <<'PY'
import json, sys
out = sys.argv[1]
s, m = (json.load(open(f"{out}/{name}.json")) for name in ("spatial", "mrc"))
for name, r in (("spatial", s), ("mrc", m)):
    print(f"{name:8s} {r['bitstream_bytes']:7d} bytes  {r['rate_bpp']:.4f} bpp  "
          f"{r['psnr_db']:.3f} dB  (latents {8 * r['latent_bytes'] / r['n_pixels']:.4f} bpp)")
print(f"rate change mrc vs spatial: {100 * (m['rate_bpp'] / s['rate_bpp'] - 1):+.2f}% at "
      f"{m['psnr_db'] - s['psnr_db']:+.3f} dB")
PY
