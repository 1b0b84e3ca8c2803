#!/usr/bin/env bash
# Device run 5 (issue 17): ab throughput on one GPU, a whole 32-job run with 8 workers against one
# worker (first on one image's 8 jobs, then resumed on the rest while the box lasts); latent RDOQ
# on CUDA (phases of one 768x512 encode, the file decoded).
set -uo pipefail
export PYTHONUNBUFFERED=1
t0=$(date +%s)
BUDGET=${BUDGET:-540}
left() { echo $(( BUDGET - ($(date +%s) - t0) )); }
box() { local want=$1 l; l=$(left); (( l - 4 < want )) && want=$(( l - 4 )); (( want < 1 )) && want=1; echo $want; }
mark() { echo "=== $* at $(( $(date +%s) - t0 )) s"; }
exec > >(tee $OUT/log.txt) 2>&1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --target /tmp/site . || exit 1
export PYTHONPATH=/tmp/site PATH=/tmp/site/bin:$PATH
(cd /tmp && python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))")
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
lscpu | grep -E "Model name|^CPU\(s\)"; date -u +%FT%TZ
mark "installed"
common=(--images .dev/crops4 --lmbda 0.02,0.004,0.001,0.0004 --n_itr 200 --preset fast
        --dec_cfg hop --a spatial --b mrc --seed 0 --device cuda --threads 2)
s=$(date +%s); timeout $(box 240) mrc-coolchic ab "${common[@]}" --names kodim02 --workers 1 --out /tmp/ab-w1 2>&1 | grep -v "^\[" | tail -3
echo "ab w1 (kodim02, 8 jobs) exit ${PIPESTATUS[0]} wall $(( $(date +%s) - s )) s"
mark "ab w1 kodim02"
s=$(date +%s); timeout $(box 230) mrc-coolchic ab "${common[@]}" --workers 8 --out /tmp/ab-w8 2>&1 | grep -v "^\[" | tail -3
echo "ab w8 (32 jobs) exit ${PIPESTATUS[0]} wall $(( $(date +%s) - s )) s"
mark "ab w8"
timeout $(box 45) python3 benchmarks/phases.py .dev/kodak-full/kodim01.png --dec_cfg hop --preset fast --n_itr 600 \
    --lmbda 0.001 --device cuda 2>&1 | tee $OUT/phases-768.txt
mark "phases"
s=$(date +%s); timeout $(box 400) mrc-coolchic ab "${common[@]}" --workers 1 --out /tmp/ab-w1 2>&1 | grep -v "^\[" | tail -3
echo "ab w1 resumed (32 jobs) exit ${PIPESTATUS[0]} wall $(( $(date +%s) - s )) s"
mark "ab w1 resumed"
pkill -f "coolchic.cli" ; sleep 1
tar -czf $OUT/ab.tgz --exclude='*.png' --exclude='*.pt' -C /tmp ab-w1 ab-w8 2>/dev/null
mark "end"
