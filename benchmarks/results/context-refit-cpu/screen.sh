#!/usr/bin/env bash
# Context screen (issue 15): refit the ARM (and IFCE) of each spatial file (6 tuning crops, lambda 0.004,
# seed 1, hop.cfg, intra 2000) with each context, on the file's own latents. Two processes, 3 files each.
set -uo pipefail
cd /work/bench/refit
tool=/work/bench/refit/context_refit.py
variants=(spatial mrc:depth=6 mrc:depth=2 mrc:depth=1,coarse=2 mrc:depth=1,coarse=2,colocated=0)
py=/work/venv/bin/python
echo "start $(date -u +%FT%TZ)" >> screen.meta
halves=("${@:-}"); [ -z "${halves[0]}" ] && halves=("01 05" "07 15")
for half in "${halves[@]}"; do
  files=(); for n in $half; do files+=(kodim$n-0.004.cool); done
  tag=${half// /-}
  ( $py $tool "${files[@]}" --variants "${variants[@]}" --start fresh --steps 2500 --lr 0.01 --json fresh-$tag.json > fresh-$tag.txt 2>&1
    $py $tool "${files[@]}" --variants "${variants[@]}" --start file --steps 1000 --lr 0.002 --json file-$tag.json > file-$tag.txt 2>&1 ) &
done
wait
echo "end $(date -u +%FT%TZ)" >> screen.meta
