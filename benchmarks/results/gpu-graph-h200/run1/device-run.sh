#!/usr/bin/env bash
# Device run (issue 17): CUDA-graph training steps. One shot, every part time-boxed; whatever
# finishes is written under $OUT. Budget: ${BUDGET:-570} s from the start.
set -uo pipefail
export PYTHONUNBUFFERED=1
t0=$(date +%s)
BUDGET=${BUDGET:-570}
left() { echo $(( BUDGET - ($(date +%s) - t0) )); }
box() { local want=$1 l; l=$(left); (( l - 5 < want )) && want=$(( l - 5 )); (( want < 1 )) && want=1; echo $want; }
mark() { echo "=== $* at $(( $(date +%s) - t0 )) s"; }
exec > >(tee $OUT/log.txt) 2>&1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --target /tmp/site . || exit 1
export PYTHONPATH=/tmp/site PATH=/tmp/site/bin:$PATH
(cd /tmp && python3 -c "import torch, coolchic; print('torch', torch.__version__, torch.cuda.get_device_name(0))") || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
lscpu | grep -E "Model name|^CPU\(s\)"; date -u +%FT%TZ; git log --oneline -1 2>/dev/null
mark "installed"

# A. The step's CUDA tests (graph replays follow the eager steps; fresh noise per replay).
timeout $(box 50) python3 -m pytest -q -p no:cacheprovider tests/test_step.py 2>&1 | tail -8
mark "tests"

# B. Time per iteration at 768x512, hop, main phase: eager vs graph (spatial), graph (mrc).
timeout $(box 85) python3 benchmarks/step_speed.py .dev/kodak-full/kodim01.png --steps 400 \
    --modes eager,graph --device cuda --lmbda 0.001 --json $OUT/step-spatial.json
timeout $(box 30) python3 benchmarks/step_speed.py .dev/kodak-full/kodim01.png --steps 400 \
    --modes graph --device cuda --lmbda 0.001 --context_provider mrc --json $OUT/step-mrc.json
mark "step speed"

# C. Upstream 5.0.1 on the same image: hop.cfg, 2000 iterations (main phase > 1000: compiled).
mkdir -p /tmp/uw
img=$PWD/.dev/kodak-full/kodim01.png
(cd .dev/upstream && timeout $(box 115) python3 cc_encode.py -i "$img" -o /tmp/uw/u.cool \
    --workdir /tmp/uw --dec_cfg_residue cfg/dec/intra/hop.cfg --n_itr 2000 --lmbda 0.001 \
    > $OUT/upstream.log 2>&1); echo "upstream exit $?"
mark "upstream"

# D. ab on one GPU: 4 crops x 4 lambdas x (spatial, mrc depth 6), fast preset, 600 iterations.
common=(--images .dev/crops4 --lmbda 0.02,0.004,0.001,0.0004 --n_itr 600 --preset fast
        --dec_cfg hop --a spatial --b mrc:depth=6 --seed 0 --device cuda --threads 2)
s=$(date +%s); timeout $(box 130) mrc-coolchic ab "${common[@]}" --workers 4 --out /tmp/ab-w4 2>&1 | tail -4
echo "ab w4 (32 jobs) exit ${PIPESTATUS[0]} wall $(( $(date +%s) - s )) s"
mark "ab w4"
s=$(date +%s); timeout $(box 80) mrc-coolchic ab "${common[@]}" --names kodim02 --workers 1 --out /tmp/ab-w1 2>&1 | tail -3
echo "ab w1 (8 jobs, kodim02) exit ${PIPESTATUS[0]} wall $(( $(date +%s) - s )) s"
mark "ab w1"
s=$(date +%s); timeout $(box 90) mrc-coolchic ab "${common[@]}" --names kodim02,kodim04 --workers 4 \
    --cuda_graph off --out /tmp/ab-eager 2>&1 | tail -3
echo "ab eager w4 (16 jobs) exit ${PIPESTATUS[0]} wall $(( $(date +%s) - s )) s"
mark "ab eager"
tar -czf $OUT/ab.tgz --exclude='*.png' --exclude='*.pt' -C /tmp ab-w4 ab-w1 ab-eager 2>/dev/null
ls -la $OUT; mark "end"
