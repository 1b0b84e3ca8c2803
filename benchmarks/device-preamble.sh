# Sourced by a one-shot script on a lent GPU machine (the `device` tool), from the repository root:
#     . benchmarks/device-preamble.sh
# The machine has no network, so the project's pure-Python and binary dependencies travel as wheels
# in .whl/ (carried, not committed; fill it here with, for example,
#     pip download --no-deps --only-binary=:all: --python-version 3.12 -d .whl \
#         constriction==0.4.2 pytorch_optimizer==4.1.0 fvcore iopath yacs termcolor configargparse
# ); the machine's own torch is used. After sourcing:
#   - everything printed also goes to $OUT/log.txt;
#   - the project and the wheels are installed under /tmp/site and on PATH/PYTHONPATH;
#   - `box SECONDS` gives a timeout that still fits the budget (BUDGET seconds from the start,
#     default 540), `left` the seconds left, `mark TEXT` prints TEXT with the elapsed time.
set -uo pipefail
export PYTHONUNBUFFERED=1
t0=$(date +%s)
BUDGET=${BUDGET:-540}
left() { echo $(( BUDGET - ($(date +%s) - t0) )); }
box() { local want=$1 l; l=$(left); (( l - 4 < want )) && want=$(( l - 4 )); (( want < 1 )) && want=1; echo $want; }
mark() { echo "=== $* at $(( $(date +%s) - t0 )) s"; }
exec > >(tee "$OUT/log.txt") 2>&1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --target /tmp/site . || exit 1
export PYTHONPATH=/tmp/site PATH=/tmp/site/bin:$PATH
(cd /tmp && python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))") || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
lscpu | grep -E "Model name|^CPU\(s\)"; date -u +%FT%TZ
mark "installed"
