#!/usr/bin/env bash
# Device run 3 (issue 17): where a graphed 768x512 iteration spends its device time; TF32 / cuDNN
# benchmark knobs; upstream 5.0.1's compiled iteration on the same machine.
set -uo pipefail
export PYTHONUNBUFFERED=1
t0=$(date +%s)
BUDGET=${BUDGET:-420}
left() { echo $(( BUDGET - ($(date +%s) - t0) )); }
box() { local want=$1 l; l=$(left); (( l - 3 < want )) && want=$(( l - 3 )); (( want < 1 )) && want=1; echo $want; }
mark() { echo "=== $* at $(( $(date +%s) - t0 )) s"; }
exec > >(tee $OUT/log.txt) 2>&1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --target /tmp/site . || exit 1
export PYTHONPATH=/tmp/site PATH=/tmp/site/bin:$PATH
(cd /tmp && python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))")
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
lscpu | grep -E "Model name|^CPU\(s\)"; date -u +%FT%TZ
img=$PWD/.dev/kodak-full/kodim01.png
mark "installed"
# Upstream first, alone on the machine: it is timed from its own log.
mkdir -p /tmp/uw
(cd .dev/upstream && timeout 150 python3 cc_encode.py -i "$img" -o /tmp/uw/u.cool \
    --workdir /tmp/uw --dec_cfg_residue cfg/dec/intra/hop.cfg --n_itr 2000 --lmbda 0.001 \
    > $OUT/upstream.log 2>&1; echo "upstream exit $?" >> $OUT/upstream.log) 
mark "upstream"
python3 benchmarks/upstream_log.py $OUT/upstream.log | tee $OUT/upstream.txt
timeout $(box 60) python3 benchmarks/profile_step.py $img --device cuda --lmbda 0.001 --steps 30 --rows 25 2>&1 | grep -v USDT | tee $OUT/profile-graph.txt
mark "profile graph"
timeout $(box 60) python3 benchmarks/profile_step.py $img --device cuda --cuda_graph off --lmbda 0.001 --steps 20 --rows 30 2>&1 | grep -v USDT | tee $OUT/profile-eager.txt
mark "profile eager"
for knobs in "" "--matmul_precision high" "--matmul_precision high --cudnn_benchmark"; do
  timeout $(box 40) python3 benchmarks/step_speed.py $img --steps 400 --modes graph --device cuda \
      --lmbda 0.001 $knobs --json $OUT/step-spatial-$(echo $knobs | tr -dc 'a-z').json
done
timeout $(box 40) python3 benchmarks/step_speed.py $img --steps 400 --modes graph --device cuda \
    --lmbda 0.001 --context_provider mrc --json $OUT/step-mrc.json
mark "end"
