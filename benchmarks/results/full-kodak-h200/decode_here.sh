#!/usr/bin/env bash
# Decode the returned bitstreams on this CPU machine and compute the BD-rate (run from this folder,
# in the project's venv, with an unpatched 5.0.1 checkout at $COOLCHIC_SRC).
set -euo pipefail
python decode_here.py returned/jobs ../../../../shared/data/kodak "$COOLCHIC_SRC" .
mrc-coolchic bdrate curve-upstream-spatial-kodim02.json curve-spatial-kodim02.json | tee bdrate.txt
