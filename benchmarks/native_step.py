# SPDX-License-Identifier: BSD-3-Clause
"""Time per CPU training iteration with and without each of coolchic.native's C kernels.

    python benchmarks/native_step.py IMAGE [--rounds 6] [--steps 10] [--json OUT]
        [encoder options: --dec_cfg hop --context_provider mrc ...]

Builds the model an encode of IMAGE trains (``profile_step.py``'s main phase,
one thread unless ``--threads``), then runs rounds: in each, ``--steps``
iterations with torch's operators only, then with each kernel alone (``arm``,
``upsampling``, ``synthesis``) and with all of them, in one process, so the
machine's drift between rounds hits every setting alike. Prints each
setting's median ms per iteration and its ratio to torch's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from coolchic.heap import kept_heap
from coolchic.model import CoolChic

sys.path.insert(0, str(Path(__file__).parent))
from profile_step import cpu_benchmark_setup, main_phase_step

SETTINGS = ("torch", "arm", "upsampling", "synthesis", "all")


def use(model: CoolChic, setting: str) -> None:
    model.use_native_kernels(setting == "all")
    if setting == "arm":
        model.arm.native = True
    elif setting == "upsampling":
        for tconv in model.upsampling.tconvs:
            tconv.native = True
    elif setting == "synthesis":
        model.synthesis.native = True


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("image")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--json")
    args, encoder_options = parser.parse_known_args(argv)
    settings, image = cpu_benchmark_setup(args.image, encoder_options)
    model, _, step = main_phase_step(settings, image)

    times: dict[str, list[float]] = {name: [] for name in SETTINGS}
    with kept_heap(settings.keep_memory):
        for name in SETTINGS:  # warm every path (and build the kernels) once
            use(model, name)
            step()
        for _ in range(args.rounds):
            for name in SETTINGS:
                use(model, name)
                start = time.perf_counter()
                for _ in range(args.steps):
                    step()
                times[name].append((time.perf_counter() - start) / args.steps * 1000)
    base = statistics.median(times["torch"])
    print(f"{args.image}: {settings.context_provider}, {image.shape[-2]}x{image.shape[-1]}, "
          f"{torch.get_num_threads()} thread(s), {args.rounds} rounds of {args.steps} iterations")
    print(f"{'kernels':>11} {'ms/itr':>8} {'/ torch':>8}  rounds")
    for name in SETTINGS:
        median = statistics.median(times[name])
        rounds = " ".join(f"{t:.0f}" for t in times[name])
        print(f"{name:>11} {median:8.1f} {median / base:8.3f}  {rounds}")
    if args.json:
        Path(args.json).write_text(json.dumps({"image": args.image, "options": encoder_options,
                                               "ms_per_iteration": times}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
