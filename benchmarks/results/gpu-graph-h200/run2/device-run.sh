#!/usr/bin/env bash
# Device run 2 (issue 17): whole iteration (forward, backward, clipping, SOAP update) in one CUDA graph.
set -uo pipefail
export PYTHONUNBUFFERED=1
t0=$(date +%s)
BUDGET=${BUDGET:-270}
left() { echo $(( BUDGET - ($(date +%s) - t0) )); }
box() { local want=$1 l; l=$(left); (( l - 3 < want )) && want=$(( l - 3 )); (( want < 1 )) && want=1; echo $want; }
mark() { echo "=== $* at $(( $(date +%s) - t0 )) s"; }
exec > >(tee $OUT/log.txt) 2>&1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --target /tmp/site . || exit 1
export PYTHONPATH=/tmp/site PATH=/tmp/site/bin:$PATH
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; date -u +%FT%TZ
mark "installed"
timeout $(box 60) python3 -m pytest -q -p no:cacheprovider tests/test_step.py 2>&1 | tail -12
mark "tests"
for p in spatial mrc; do
  timeout $(box 45) python3 benchmarks/step_speed.py .dev/kodak-full/kodim01.png --steps 400 \
      --device cuda --lmbda 0.001 --context_provider $p --json $OUT/step-768-$p.json
done
timeout $(box 30) python3 benchmarks/step_speed.py .dev/crops4/kodim02.png --steps 400 \
    --device cuda --lmbda 0.001 --json $OUT/step-256-spatial.json
mark "step speed"
( cd /tmp && time python3 -c "import coolchic.cli, coolchic.encoder, torch; torch.zeros(1, device='cuda')" )
timeout $(box 60) python3 benchmarks/phases.py .dev/crops4/kodim02.png --dec_cfg hop --preset fast \
    --n_itr 600 --lmbda 0.001 --device cuda 2>&1 | tee $OUT/phases-256.txt
mark "phases"
timeout $(box 60) python3 benchmarks/phases.py .dev/crops4/kodim02.png --dec_cfg hop --preset fast \
    --n_itr 600 --lmbda 0.001 --device cuda --cuda_graph off 2>&1 | tee $OUT/phases-256-eager.txt
mark "end"
