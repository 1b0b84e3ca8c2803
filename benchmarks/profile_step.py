# SPDX-License-Identifier: BSD-3-Clause
"""Where one training iteration of our encoder spends its time (torch.profiler).

    python benchmarks/profile_step.py IMAGE [--dec_cfg hop] [--context_provider spatial]
        [--threads 1] [--keep_memory on] [--steps 20] [--rows 15]
        [--device cuda [--cuda_graph on|off]]

Builds the model an encode of IMAGE would train, runs a few warm-up
iterations of the main phase (forward, RD loss, backward, gradient clipping,
SOAP step), times ``--steps`` more, then profiles them and prints the number
of operators per iteration in the forward, the backward and the optimizer
(gradient clipping and SOAP), the time each part spends outside operators
(Python and dispatch), and the operators that take the most time, with their
input shapes (which say the module: ``[N, 20]`` rows are the ARM's,
``[1, 48, H, W]`` the synthesis's, ``[k, 1, h, w]`` the upsampling's). Phase by phase timings of a
whole encode: ``benchmarks/phases.py``.

On a CUDA device it runs the iterations as an encode does (``coolchic.step``:
one CUDA graph per iteration unless ``--cuda_graph off``) and prints the wall
time per iteration, the part of it spent in SOAP's eigenbasis refresh (timed
with a synchronisation around each refresh), the kernels per iteration with
their summed device time, and the kernels that take the most device time.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import torch
from torch.nn.utils import clip_grad_norm_
from torch.profiler import ProfilerActivity, profile, record_function

from coolchic.autotune import tuned_convolutions
from coolchic.encoder import candidate_factory, resolve_device
from coolchic.heap import kept_heap
from coolchic.imageio import load_image
from coolchic.model import QuantizerSetting
from coolchic.optimizer import make_optimizer
from coolchic.plugins import host_plugin_manager, installed_providers
from coolchic.presets import make_preset
from coolchic.settings import parse_settings
from coolchic.step import GRADIENT_CLIP, make_iteration, rd_loss


def main_phase_model(settings, image: torch.Tensor, device: torch.device):
    """A fresh model for ``image`` on ``device`` (seeded), the intra preset's main phase, the
    networks' parameters and the optimizer of that phase."""
    make_candidate = candidate_factory(settings, installed_providers(), *image.shape[-2:], device)
    training = settings.training
    torch.manual_seed(training.seed)
    model = make_candidate()
    phase = make_preset("intra", training.lmbda, 2000, training.start_lr).phases[0]
    networks = model.network_parameters()
    optimizer = make_optimizer(networks, list(model.latents.parameters()), phase)
    return model, phase, networks, optimizer


def cpu_benchmark_setup(image_path: str, options: list[str]):
    """The encoder settings of ``options`` (hop and the C kernels unless they say otherwise),
    torch's thread count set from them, and the image."""
    settings = parse_settings(["--dec_cfg", "hop", "--cpu_kernels", "native", *options],
                              host_plugin_manager())
    torch.set_num_threads(settings.threads or torch.get_num_threads())
    return settings, load_image(image_path)


def main_phase_step(settings, image: torch.Tensor):
    """:func:`main_phase_model` on the CPU, its main phase's quantizer setting, and one
    training iteration of it (forward, RD loss, backward, clipping, the optimizer's step)."""
    model, phase, networks, optimizer = main_phase_model(settings, image, torch.device("cpu"))
    quantizer = QuantizerSetting(phase.quantizer_type, phase.noise_type,
                                 phase.softround_temperature[0], phase.noise_parameter[0])

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        out = model(quantizer)
        rd_loss(out.image, image, out.rate_bits, settings.training.lmbda).backward()
        clip_grad_norm_(networks, GRADIENT_CLIP)
        optimizer.step()

    return model, quantizer, step


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("image")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rows", type=int, default=15)
    args, encoder_options = parser.parse_known_args(argv)  # the rest: encoder settings
    steps, rows = args.steps, args.rows
    settings = parse_settings(["--dec_cfg", "hop", *encoder_options], host_plugin_manager())
    torch.set_num_threads(settings.threads or torch.get_num_threads())
    image = load_image(args.image)
    device = resolve_device(settings.device)
    if device.type == "cuda":
        with tuned_convolutions(settings.cudnn_benchmark, device):
            return profile_cuda(args.image, settings, image.to(device), steps, rows)
    training = settings.training
    model, phase, networks, optimizer = main_phase_model(settings, image, torch.device("cpu"))
    setting = QuantizerSetting(phase.quantizer_type, phase.noise_type,
                               phase.softround_temperature[0], phase.noise_parameter[0])

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with record_function("forward"):
            out = model(setting)
            loss = rd_loss(out.image, image, out.rate_bits, training.lmbda)
        with record_function("backward"):
            loss.backward()
        with record_function("optimizer"):
            clip_grad_norm_(networks, GRADIENT_CLIP)
            optimizer.step()

    with kept_heap(settings.keep_memory):
        for _ in range(5):
            step()
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        start = time.perf_counter()
        for _ in range(steps):
            step()
        per_step = (time.perf_counter() - start) / steps * 1000
        faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / steps
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before profiling
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            for _ in range(steps):
                step()
    parts = ("forward", "backward", "optimizer")
    ops = dict.fromkeys(parts, 0)
    wall = dict.fromkeys(parts, 0.0)
    outside = dict.fromkeys(parts, 0.0)
    for event in prof.events():
        if event.name in parts:
            wall[event.name] += event.cpu_time_total
            outside[event.name] += event.self_cpu_time_total
            continue
        if not event.name.startswith("aten::"):
            continue
        parent, nested = event.cpu_parent, False
        while parent is not None and parent.name not in parts:
            nested = nested or parent.name.startswith("aten::")
            parent = parent.cpu_parent
        if parent is not None and not nested:
            ops[parent.name] += 1
    print(f"{args.image}: {settings.context_provider}, {image.shape[-2]}x{image.shape[-1]}, "
          f"{torch.get_num_threads()} thread(s), torch {torch.__version__}")
    print(f"{per_step:.1f} ms per iteration (mean of {steps}, unprofiled), {faults:.0f} page "
          f"faults per iteration, peak {peak:.0f} MiB, keep_memory {settings.keep_memory}")
    print(f"{'part':>9} {'ms/itr':>7} {'operators/itr':>13} {'ms/itr outside operators':>25}")
    for part in parts:
        print(f"{part:>9} {wall[part] / steps / 1000:7.1f} {ops[part] / steps:13.0f} "
              f"{outside[part] / steps / 1000:25.1f}")
    averages = [e for e in prof.key_averages(group_by_input_shape=True) if e.key not in parts]
    total = sum(e.self_cpu_time_total for e in averages)
    print(f"{'self ms/itr':>11} {'share':>6} {'calls/itr':>9}  operator, input shapes")
    for event in sorted(averages, key=lambda e: -e.self_cpu_time_total)[:rows]:
        shapes = ", ".join(str(list(s)) for s in event.input_shapes if s)
        print(f"{event.self_cpu_time_total / steps / 1000:11.2f} "
              f"{event.self_cpu_time_total / total:6.1%} {event.count / steps:9.1f}  "
              f"{event.key} {shapes[:80]}")
    return 0


def profile_cuda(name: str, settings, target: torch.Tensor, steps: int, rows: int) -> int:
    """The CUDA report: wall time, refresh time, kernels and their device time per iteration."""
    device = target.device
    training = settings.training
    model, phase, networks, optimizer = main_phase_model(settings, target, device)
    iteration = make_iteration(model, target, training.lmbda, phase, optimizer, networks,
                               settings.cuda_graph)
    temperature = phase.scheduled(phase.softround_temperature, 0)
    noise = phase.scheduled(phase.noise_parameter, 0)
    for _ in range(12):  # the set-up step, the eager steps and the graph's recording
        iteration(temperature, noise)
    torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        iteration(temperature, noise)
    torch.cuda.synchronize(device)
    per_step = (time.perf_counter() - start) / steps * 1000
    refresh_s = 0.0
    soap = getattr(iteration, "soap", None)
    if soap is not None:  # the refresh's share, each one fenced by synchronisations
        plain_refresh = soap.refresh

        def timed_refresh() -> None:
            nonlocal refresh_s
            torch.cuda.synchronize(device)
            begin = time.perf_counter()
            plain_refresh()
            torch.cuda.synchronize(device)
            refresh_s += time.perf_counter() - begin

        soap.refresh = timed_refresh
        for _ in range(steps):
            iteration(temperature, noise)
        soap.refresh = plain_refresh
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA],
                 record_shapes=True) as prof:
        for _ in range(steps):
            iteration(temperature, noise)
        torch.cuda.synchronize(device)
    kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
    device_ms = sum(e.time_range.elapsed_us() for e in kernels) / steps / 1000
    print(f"{name}: {settings.context_provider}, {target.shape[-2]}x{target.shape[-1]}, "
          f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}, "
          f"cuda_graph {settings.cuda_graph}, cudnn_benchmark {settings.cudnn_benchmark}")
    print(f"{per_step:.2f} ms per iteration (mean of {steps}, unprofiled); SOAP refresh "
          f"{refresh_s / steps * 1000:.2f} ms per iteration (synchronised); {len(kernels) / steps:.0f} "
          f"kernels per iteration, {device_ms:.2f} ms of device time per iteration")
    by_kernel: dict[str, list[float]] = {}
    for e in kernels:
        entry = by_kernel.setdefault(e.name, [0.0, 0])
        entry[0] += e.time_range.elapsed_us()
        entry[1] += 1
    print(f"{'device ms/itr':>13} {'share':>6} {'calls/itr':>9}  kernel")
    for kernel, (total, count) in sorted(by_kernel.items(), key=lambda kv: -kv[1][0])[:rows]:
        print(f"{total / steps / 1000:13.3f} {total / steps / 1000 / max(device_ms, 1e-9):6.1%} "
              f"{count / steps:9.1f}  {kernel[:110]}")
    averages = [e for e in prof.key_averages(group_by_input_shape=True)
                if e.key.startswith("aten::") and e.self_device_time_total > 0]
    print(f"{'device ms/itr':>13} {'calls/itr':>9}  operator, input shapes (eager launches only)")
    for event in sorted(averages, key=lambda e: -e.self_device_time_total)[:rows]:
        shapes = ", ".join(str(list(s)) for s in event.input_shapes if s)
        print(f"{event.self_device_time_total / steps / 1000:13.3f} {event.count / steps:9.1f}  "
              f"{event.key} {shapes[:80]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
