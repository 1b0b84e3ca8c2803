# SPDX-License-Identifier: BSD-3-Clause
"""The networks' quantization and RDOQ with and without layer reuse, same run, same model.

Trains one model as ``mrc-coolchic encode`` does, then quantizes its networks
and runs their RDOQ on copies of it, alternating ``reuse`` off and on
(the order swapped every round), checks that both give the same codes and the
same parameters, and prints each phase's median seconds and the on/off ratio.

    python benchmarks/rdoq_reuse.py IMAGE OUT.json [--rounds N] [encoder options]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from datetime import datetime, timezone

import torch
from coolchic.encoder import candidate_factory, resolve_device
from coolchic.heap import kept_heap
from coolchic.imageio import load_image
from coolchic.machine import cpu_model
from coolchic.nnquant import quantize_networks
from coolchic.plugins import host_plugin_manager, installed_providers
from coolchic.presets import make_preset
from coolchic.rdoq import rdoq_networks
from coolchic.settings import parse_settings
from coolchic.threads import torch_threads
from coolchic.training import Trainer


def timed_quantization(trained, image, lmbda: float, seed: int, reuse: bool):
    model = copy.deepcopy(trained)
    start = time.perf_counter()
    codes = quantize_networks(model, image, lmbda, reuse=reuse)
    quantized = time.perf_counter()
    codes = rdoq_networks(model, image, lmbda, codes, torch.Generator().manual_seed(seed),
                          reuse=reuse)
    done = time.perf_counter()
    return {"quantization_s": quantized - start, "rdoq_s": done - quantized}, codes, model


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(usage=__doc__.strip().splitlines()[-1].strip())
    parser.add_argument("image")
    parser.add_argument("out")
    parser.add_argument("--rounds", type=int, default=2)
    args, encoder_argv = parser.parse_known_args(argv)
    settings = parse_settings(encoder_argv, host_plugin_manager())
    device = resolve_device(settings.device)
    image = load_image(args.image).to(device)
    training = settings.training
    with torch_threads(settings.threads), kept_heap(settings.keep_memory):
        threads = torch.get_num_threads()
        factory = candidate_factory(settings, installed_providers(), *image.shape[-2:], device)
        torch.manual_seed(training.seed)
        start = time.perf_counter()
        trained, _ = Trainer(image, make_preset(training.preset, training.lmbda, training.n_itr,
                                                training.start_lr)).run([factory])
        train_s = time.perf_counter() - start
        times: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
        reference = None
        for round_index in range(args.rounds):
            order = (False, True) if round_index % 2 == 0 else (True, False)
            for reuse in order:
                seconds, codes, model = timed_quantization(trained, image, training.lmbda,
                                                           training.seed, reuse)
                state = model.state_dict()
                if reference is None:
                    reference = (codes, state)
                elif codes != reference[0] or any(
                        not torch.equal(state[k], reference[1][k]) for k in state):
                    print(f"round {round_index}: reuse={reuse} gave other parameters")
                    return 1
                times["on" if reuse else "off"].append(seconds)
                print(f"round {round_index} reuse {'on ' if reuse else 'off'}: "
                      + "  ".join(f"{k} {v:.1f}" for k, v in seconds.items()), flush=True)
    medians = {side: {phase: statistics.median(r[phase] for r in rounds)
                      for phase in rounds[0]} for side, rounds in times.items()}
    ratios = {phase: medians["on"][phase] / medians["off"][phase] for phase in medians["on"]}
    print(f"{args.image} {tuple(image.shape[-2:])}: trained in {train_s:.1f} s; medians of "
          f"{args.rounds} rounds, reuse on / off: "
          + ", ".join(f"{phase} {medians['on'][phase]:.1f} / {medians['off'][phase]:.1f} s "
                      f"= {ratio:.2f}" for phase, ratio in ratios.items())
          + "; the same codes and parameters")
    record = {"image": args.image, "size": list(image.shape[-2:]), "argv": argv,
              "train_s": train_s, "rounds": times, "medians": medians, "ratios": ratios,
              "same_result": True, "torch": torch.__version__, "machine": cpu_model(),
              "threads": threads,
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    with open(args.out, "w") as handle:
        json.dump(record, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
