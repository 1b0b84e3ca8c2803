# SPDX-License-Identifier: BSD-3-Clause
"""Time per CPU training iteration of each context provider, alternating in one process.

    python benchmarks/provider_step.py IMAGE [--providers spatial,mrc] [--rounds 8]
        [--steps 10] [--json OUT] [encoder options: --dec_cfg hop --cpu_kernels torch ...]

Builds, for each provider, the model an encode of IMAGE trains
(``profile_step.py``'s main phase, one thread unless ``--threads``) and runs
rounds: in each, ``--steps`` iterations of every provider's model in turn, so
that the machine's drift between rounds hits them alike. Prints each
provider's median ms per iteration and the median over rounds of its ratio to
the first provider's time in the same round.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from coolchic.encoder import native_kernels
from coolchic.heap import kept_heap
from coolchic.imageio import load_image
from coolchic.plugins import host_plugin_manager
from coolchic.settings import parse_settings

sys.path.insert(0, str(Path(__file__).parent))
from profile_step import main_phase_step


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("image")
    parser.add_argument("--providers", default="spatial,mrc")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--json")
    args, encoder_options = parser.parse_known_args(argv)
    providers = args.providers.split(",")
    settings = {p: parse_settings(["--dec_cfg", "hop", *encoder_options, "--context_provider", p],
                                  host_plugin_manager()) for p in providers}
    base = settings[providers[0]]
    torch.set_num_threads(base.threads or torch.get_num_threads())
    image = load_image(args.image)
    steps = {p: main_phase_step(settings[p], image)[2] for p in providers}
    times: dict[str, list[float]] = {p: [] for p in providers}
    with kept_heap(base.keep_memory):
        for step in steps.values():  # warm every path (and build the kernels) once
            step()
        for _ in range(args.rounds):
            for provider, step in steps.items():
                start = time.perf_counter()
                for _ in range(args.steps):
                    step()
                times[provider].append((time.perf_counter() - start) / args.steps * 1000)
    first = providers[0]
    kernels = "C kernels" if native_kernels(base.cpu_kernels, torch.device("cpu")) else "torch"
    print(f"{args.image}: {image.shape[-2]}x{image.shape[-1]}, {kernels}, "
          f"{torch.get_num_threads()} thread(s), {args.rounds} rounds of {args.steps} "
          f"iterations")
    print(f"{'provider':>9} {'ms/itr':>8} {'/ ' + first:>10}  rounds")
    ratios = {}
    for provider in providers:
        ratios[provider] = statistics.median(t / f for t, f in zip(times[provider], times[first]))
        rounds = " ".join(f"{t:.0f}" for t in times[provider])
        print(f"{provider:>9} {statistics.median(times[provider]):8.1f} "
              f"{ratios[provider]:10.3f}  {rounds}")
    if args.json:
        Path(args.json).write_text(json.dumps({"image": args.image, "options": encoder_options,
                                               "ms_per_iteration": times,
                                               "median_ratio": ratios}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
