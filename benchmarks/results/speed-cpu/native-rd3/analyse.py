# SPDX-License-Identifier: BSD-3-Clause
"""Paired RD-cost differences (MSE + lambda x bpp), C kernels (spatial) against torch's operators
(spatial+cpu_kernelstorch), over this folder's crops (seed 1; seed0/: seed 0) and those of ../native-rd and ../native-rd2
(seed 1).

    python analyse.py
"""
import csv
import statistics
from pathlib import Path
here = Path(__file__).resolve().parent
files = sorted(here.glob('kodim*/per_image.csv')) + sorted(here.glob('seed0/kodim*/per_image.csv')) + [
    here.parent / 'native-rd' / 'per_image.csv', here.parent / 'native-rd2' / 'per_image.csv']
pairs = {}
for f in files:
    seed = 0 if 'seed0' in f.parts else 1
    for r in csv.DictReader(f.read_text().splitlines()):
        pairs.setdefault((r['image'], seed, float(r['lmbda'])), {})[r['variant']] = r
diffs = []
for (image, seed, lmbda), p in sorted(pairs.items()):
    if len(p) < 2: continue
    def cost(r, lmbda=lmbda):
        return 10 ** (-float(r['psnr_rgb']) / 10) + lmbda * float(r['bpp'])
    t, n = p['spatial+cpu_kernelstorch'], p['spatial']
    d = 100 * (cost(n) / cost(t) - 1)
    diffs.append((image, seed, lmbda, d))
    print(f"{image} seed {seed} lambda {lmbda}: torch {float(t['bpp']):.4f} bpp {float(t['psnr_rgb']):.3f} dB, "
          f"kernels {float(n['bpp']):.4f} bpp {float(n['psnr_rgb']):.3f} dB, RD cost {d:+.2f}%")
ds = [d for *_, d in diffs]
m, s = statistics.mean(ds), statistics.stdev(ds)
print(f"{len(ds)} points: mean {m:+.2f}%, sd {s:.2f}, standard error {s / len(ds) ** 0.5:.2f}, "
      f"{sum(d > 0 for d in ds)} above 0, median {statistics.median(ds):+.2f}%")
