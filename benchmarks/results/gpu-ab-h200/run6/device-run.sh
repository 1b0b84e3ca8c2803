#!/usr/bin/env bash
# Device run 6 (issue 17): resume run 5's 8-worker ab (25 of 32 jobs done, records carried in
# .dev/ab-w8), then resume its 1-worker ab while the box lasts; process start-up on this machine.
set -uo pipefail
export PYTHONUNBUFFERED=1
t0=$(date +%s)
BUDGET=${BUDGET:-190}
left() { echo $(( BUDGET - ($(date +%s) - t0) )); }
box() { local want=$1 l; l=$(left); (( l - 4 < want )) && want=$(( l - 4 )); (( want < 1 )) && want=1; echo $want; }
mark() { echo "=== $* at $(( $(date +%s) - t0 )) s"; }
exec > >(tee $OUT/log.txt) 2>&1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --target /tmp/site . || exit 1
export PYTHONPATH=/tmp/site PATH=/tmp/site/bin:$PATH
date -u +%FT%TZ
mark "installed"
cp -r .dev/ab-w8 .dev/ab-w1 /tmp/
common=(--images .dev/crops4 --lmbda 0.02,0.004,0.001,0.0004 --n_itr 200 --preset fast
        --dec_cfg hop --a spatial --b mrc --seed 0 --device cuda --threads 2)
s=$(date +%s); timeout $(box 120) mrc-coolchic ab "${common[@]}" --workers 8 --out /tmp/ab-w8 2>&1 | grep -v "^\[" | tail -3
echo "ab w8 resumed exit ${PIPESTATUS[0]} wall $(( $(date +%s) - s )) s"
mark "ab w8"
(cd /tmp; TIMEFORMAT="start-up %R s"; for i in 1 2; do time python3 -c "import torch, coolchic.cli, coolchic.encoder; torch.zeros(1, device='cuda')"; done
 TIMEFORMAT="start-up %R s without CUDA"; time python3 -c "import torch, coolchic.cli, coolchic.encoder")
mark "start-up"
s=$(date +%s); timeout $(box 200) mrc-coolchic ab "${common[@]}" --workers 1 --out /tmp/ab-w1 2>&1 | grep -v "^\[" | tail -3
echo "ab w1 resumed exit ${PIPESTATUS[0]} wall $(( $(date +%s) - s )) s"
mark "ab w1"
pkill -f "coolchic.cli" ; sleep 1
tar -czf $OUT/ab.tgz --exclude='*.png' --exclude='*.pt' -C /tmp ab-w1 ab-w8 2>/dev/null
mark "end"
