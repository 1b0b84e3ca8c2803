#!/usr/bin/env bash
# Byte-identity: encodes with 9bf7fb4 (worktree /work/seed0-src) and with the working tree (/work/main), same settings.
set -euo pipefail
cd /work/bench/rdoq/same
IMG=/work/bench/hvu-images6/kodim23.png
for side in old new; do
  if [ $side = old ]; then PP=/work/seed0-src/vendor:/work/seed0-src; else PP=/work/main/vendor:/work/main; fi
  for cfg in "hop spatial" "hop mrc" "lop spatial"; do
    set -- $cfg
    PYTHONPATH=$PP /work/venv/bin/python -c "import coolchic; print(coolchic.__file__)" >> where.txt
    PYTHONPATH=$PP /usr/bin/time -f "%e s" /work/venv/bin/mrc-coolchic encode -i $IMG -o $side-$1-$2.cool --dec_cfg $1 --context_provider $2 --preset fast --n_itr 300 --lmbda 0.004 --seed 0 --threads 1 --quiet 2>> times.txt
    echo "$side $1 $2 $(tail -1 times.txt)" >> log.txt
  done
done
for f in old-*.cool; do cmp "$f" "new-${f#old-}" && echo "same: ${f#old-}" >> log.txt; done
sha256sum *.cool >> log.txt
