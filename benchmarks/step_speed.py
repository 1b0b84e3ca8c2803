# SPDX-License-Identifier: BSD-3-Clause
"""Time per training iteration of our encoder, eager against CUDA-graph replay.

    python benchmarks/step_speed.py IMAGE [--steps 400] [--modes eager,graph] [--json OUT]
        [--matmul_precision highest|high]
        [encoder options: --dec_cfg hop --device cuda ...]

Builds the model an encode of IMAGE would train and runs ``--steps``
iterations of the intra preset's main phase (softround with noise, cosine
learning rate, SOAP, an evaluation every 100 iterations) once per mode, as
``Trainer.train_phase`` runs them in an encode. Prints, per mode, the whole
phase's time (recording the graph included) and the steady time per
iteration between the first and the last evaluation (each evaluation reads a
value back from the device, so those instants are synchronised), then the
ratio graph / eager. ``graph`` needs CUDA; on the CPU only ``eager`` runs.
``--matmul_precision high`` lets float32 matrix products use TF32 (as
upstream's compiled GPU encode sets it). The encoder's ``--cudnn_benchmark
on|off`` (``coolchic.autotune``) applies as in an encode.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time

import torch

from coolchic.autotune import tuned_convolutions
from coolchic.encoder import candidate_factory, resolve_device
from coolchic.imageio import load_image
from coolchic.plugins import host_plugin_manager, installed_providers
from coolchic.presets import Preset, make_preset
from coolchic.settings import parse_settings
from coolchic.training import ProgressEvent, Trainer

MODES = ("eager", "graph")


def time_phase(settings, image, mode: str, steps: int) -> dict:
    device = resolve_device(settings.device)
    training = settings.training
    make_candidate = candidate_factory(settings, installed_providers(), *image.shape[-2:], device)
    target = image.to(device)
    phase = make_preset("intra", training.lmbda, 2000, training.start_lr).phases[0]
    phase = dataclasses.replace(phase, max_itr=steps, freq_valid=100)
    torch.manual_seed(training.seed)
    model = make_candidate()
    marks: list[tuple[int, float]] = []

    def progress(event: ProgressEvent) -> None:
        marks.append((event.iteration, time.perf_counter()))

    preset = Preset("main phase", training.lmbda, phases=(phase,))
    trainer = Trainer(target, preset, progress, cuda_graph=mode == "graph")
    start = time.perf_counter()
    evaluation = trainer.train_phase(model, phase, "main")
    total = time.perf_counter() - start
    (first_itr, first_t), (last_itr, last_t) = marks[0], marks[-1]
    steady = (last_t - first_t) / max(last_itr - first_itr, 1) * 1000
    return {"mode": mode, "device": str(device), "height": image.shape[-2],
            "width": image.shape[-1], "provider": settings.context_provider, "steps": steps,
            "phase_s": total, "ms_per_iteration": steady, "loss": evaluation.loss,
            "psnr_db": evaluation.psnr_db, "rate_bpp": evaluation.rate_bpp}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("image")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--modes", default="eager,graph")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--matmul_precision", choices=("highest", "high"), default="highest")
    args, encoder_options = parser.parse_known_args(argv)
    modes = args.modes.split(",")
    if args.steps < 200 or any(mode not in MODES for mode in modes):
        print(f"step_speed: --steps must be >= 200 and --modes within {','.join(MODES)}",
              file=sys.stderr)
        return 2
    settings = parse_settings(["--dec_cfg", "hop", *encoder_options], host_plugin_manager())
    if settings.threads:
        torch.set_num_threads(settings.threads)
    if "graph" in modes and resolve_device(settings.device).type != "cuda":
        print("step_speed: graph mode needs CUDA (--device cuda)", file=sys.stderr)
        return 2
    torch.set_float32_matmul_precision(args.matmul_precision)
    image = load_image(args.image)
    with tuned_convolutions(settings.cudnn_benchmark, resolve_device(settings.device)) as tuned:
        results = [time_phase(settings, image, mode, args.steps) for mode in modes]
    for r in results:
        r.update(matmul_precision=args.matmul_precision, cudnn_benchmark=tuned)
        print(f"{r['mode']:>5} {r['device']} {r['height']}x{r['width']} {r['provider']} "
              f"(matmul {r['matmul_precision']}, cudnn benchmark {r['cudnn_benchmark']}): "
              f"{r['ms_per_iteration']:.2f} ms/iteration steady, phase {r['phase_s']:.1f} s "
              f"for {r['steps']} iterations, loss {r['loss']:.6g}")
    by_mode = {r["mode"]: r for r in results}
    if len(by_mode) == 2:
        print(f"graph / eager: {by_mode['graph']['ms_per_iteration'] / by_mode['eager']['ms_per_iteration']:.3f}"
              " per iteration")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
