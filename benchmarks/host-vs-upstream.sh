#!/usr/bin/env bash
# Our host against genuine upstream Cool-chic 5.0.1, both with Cool-chic's own context, with one
# decoder config file used by both hosts (default: the MRC paper's architecture, which both can
# run: no IFCE, no hyperlatents). Rate from the written files, PSNR from each host's decoder;
# summary.json also gives the encode wall-time ratio of the same run. Resumable.
#   benchmarks/host-vs-upstream.sh UPSTREAM_CHECKOUT IMAGES_DIR OUT [CFG] [LAMBDAS] [N_ITR] [WORKERS] [SEED]
# UPSTREAM_CHECKOUT: an unpatched v5.0.1 checkout (only read). Without the real torchvision, put
# a stand-in on PYTHONPATH (patches/README.md). 2 CPU cores: one worker (default), one thread,
# so that both hosts are timed alike; with WORKERS=2 both hosts share the cores alike.
set -euo pipefail
upstream="${1:?give an upstream Cool-chic 5.0.1 checkout}"
images="${2:?give a folder of PNG images}"
out="${3:?give an output folder}"
cfg="${4:-$(python3 -c 'from coolchic.config import shipped_config; print(shipped_config("paper"))')}"
lambdas="${5:-0.004,0.001}"
n_itr="${6:-2000}"
workers="${7:-1}"
seed="${8:-0}"
exec mrc-coolchic ab --images "$images" --lmbda "$lambdas" --n_itr "$n_itr" --preset intra \
    --dec_cfg "$cfg" --a upstream/spatial --b spatial --upstream "$upstream" --seed "$seed" \
    --device cpu --workers "$workers" --threads 1 --out "$out"
