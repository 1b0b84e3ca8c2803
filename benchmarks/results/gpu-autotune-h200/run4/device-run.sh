#!/usr/bin/env bash
# Device run 4 (issue 17): cuDNN autotuner on by default + host-side SOAP refresh; upstream 5.0.1
# on the same machine; CUDA tests; profile; whole encodes by phase, autotuner on and off.
set -uo pipefail
export PYTHONUNBUFFERED=1
t0=$(date +%s)
BUDGET=${BUDGET:-320}
left() { echo $(( BUDGET - ($(date +%s) - t0) )); }
box() { local want=$1 l; l=$(left); (( l - 3 < want )) && want=$(( l - 3 )); (( want < 1 )) && want=1; echo $want; }
mark() { echo "=== $* at $(( $(date +%s) - t0 )) s"; }
exec > >(tee $OUT/log.txt) 2>&1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --target /tmp/site . || exit 1
export PYTHONPATH=/tmp/site PATH=/tmp/site/bin:$PATH
(cd /tmp && python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))")
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
lscpu | grep -E "Model name|^CPU\(s\)"; date -u +%FT%TZ; git log --oneline -1
img=$PWD/.dev/kodak-full/kodim01.png
mark "installed"
for knob in on off; do
  timeout $(box 30) python3 benchmarks/step_speed.py $img --steps 400 --modes graph --device cuda \
      --lmbda 0.001 --cudnn_benchmark $knob --json $OUT/step-spatial-$knob.json
done
mark "ours"
mkdir -p /tmp/uw
(cd .dev/upstream && timeout $(box 112) python3 cc_encode.py -i "$img" -o /tmp/uw/u.cool \
    --workdir /tmp/uw --dec_cfg_residue cfg/dec/intra/hop.cfg --n_itr 2000 --lmbda 0.001 \
    > $OUT/upstream.log 2>&1)
python3 benchmarks/upstream_log.py $OUT/upstream.log
mark "upstream"
timeout $(box 25) python3 benchmarks/step_speed.py $img --steps 400 --modes graph --device cuda \
    --lmbda 0.001 --context_provider mrc --json $OUT/step-mrc-on.json
timeout $(box 50) python3 -m pytest -q -p no:cacheprovider tests/test_step.py tests/test_optimizer.py 2>&1 | tail -4
mark "tests"
timeout $(box 30) python3 benchmarks/profile_step.py $img --device cuda --lmbda 0.001 --steps 30 --rows 12 2>&1 | grep -v -E "USDT|_warn_once|UserWarning" > $OUT/profile-graph.txt
head -3 $OUT/profile-graph.txt
mark "profile"
for knob in on off; do
  timeout $(box 40) python3 benchmarks/phases.py $img --dec_cfg hop --preset fast --n_itr 600 \
      --lmbda 0.001 --device cuda --cudnn_benchmark $knob 2>&1 | tee $OUT/phases-768-$knob.txt
done
mark "end"
