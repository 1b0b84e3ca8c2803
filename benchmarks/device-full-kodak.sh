#!/usr/bin/env bash
# One device call (issue 15): our host's defaults against genuine upstream 5.0.1 on WHOLE 768x512
# Kodak images of the confirmation split, 4 lambdas, 2000 iterations (the CPU crops' recipe, so
# only the image size changes), intra preset, hop.cfg, seed 1, 8 workers sharing the GPU, every
# file decoded by ab. One image at a time, so each finished image comes back even if the call's
# box runs out; resumable in out/ while the machine stays warm (ab keeps finished jobs).
# Prepare here, then call `run` with carry [".whl", ".dev"] and the command
#     BUDGET=565 bash benchmarks/device-full-kodak.sh        (timeout_s 580)
#   .whl/: the project's wheels (benchmarks/device-preamble.sh says which);
#   .dev/kodak-full/: the whole Kodak PNGs to code (e.g. kodim02.png, kodim06.png);
#   .dev/upstream-v5.0.1/: cc_encode.py, cc_decode.py, coolchic/ and cfg/ of an unpatched 5.0.1.
# Ran once (2026-11-28, H200): kodim02's 8 jobs took 355 s, so one image fits a call; kodim02 is
# in benchmarks/results/full-kodak-h200, and the default is now the next one, kodim06.
. benchmarks/device-preamble.sh
nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 15 > "$OUT/smi.csv" &
mkdir -p out
common=(--images .dev/kodak-full --lmbda 0.02,0.004,0.001,0.0004 --n_itr 2000 --preset intra
        --dec_cfg hop --a upstream/spatial --b spatial --upstream .dev/upstream-v5.0.1
        --seed 1 --device cuda --workers 8 --threads 2 --out out/full-kodak)
for name in ${NAMES:-kodim06}; do
  s=$(date +%s)
  timeout "$(box 600)" mrc-coolchic ab "${common[@]}" --names "$name" 2>&1 | grep -v "^\[" | tail -25
  echo "ab $name exit ${PIPESTATUS[0]} wall $(( $(date +%s) - s )) s"
  mark "ab $name"
  tar -czf "$OUT/full-kodak.tgz" --exclude='*.png' --exclude='*.pt' --exclude='upstream' \
      -C out full-kodak
done
pkill -f "coolchic.cli"; pkill -f cc_encode; sleep 1
tar -czf "$OUT/full-kodak.tgz" --exclude='*.png' --exclude='*.pt' --exclude='upstream' -C out full-kodak
mark "end"
