# SPDX-License-Identifier: BSD-3-Clause
"""How far the C kernels' gradients are from exact, next to torch's operators' own distance.

    python benchmarks/native_accuracy.py IMAGE [--warmup 100] [--json OUT]
        [encoder options: --dec_cfg hop --context_provider mrc ...]

Trains the model an encode of IMAGE trains (``profile_step.py``'s main phase, one
thread unless ``--threads``) for ``--warmup`` iterations with torch's operators,
so that its parameters are those of a real encode. Then computes one training
step's gradients three times from that state: in float64 with torch's operators
(the reference), in float32 with torch's operators and in float32 with the C
kernels; for the main phase's quantizer (its noise drawn in float32 for all
three) and for the last phase's (hard rounding, no noise). Prints, per part of
the model, the relative distance ``|g - g64| / |g64|`` of each float32 gradient
and the kernels' distance over torch's.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import torch

from coolchic.model import CoolChic, QuantizerSetting
from coolchic.presets import make_preset
from coolchic.step import rd_loss

sys.path.insert(0, str(Path(__file__).parent))
from profile_step import cpu_benchmark_setup, main_phase_step


@contextmanager
def float32_noise():
    """Noise drawn in float32 whatever the latents' dtype, so that every precision sees the
    same draws from the same seed."""
    draws = {name: getattr(torch, name) for name in ("rand_like", "randn_like")}

    def drawn_in_float32(draw):
        return lambda x, **kw: draw(x, dtype=torch.float32, **kw).to(x.dtype)

    with mock.patch.multiple(torch, **{n: drawn_in_float32(d) for n, d in draws.items()}):
        yield


def gradients(model: CoolChic, image: torch.Tensor, quantizer: QuantizerSetting, lmbda: float,
              dtype: torch.dtype, native: bool) -> tuple[float, dict[str, torch.Tensor]]:
    model = copy.deepcopy(model).to(dtype)
    model.use_native_kernels(native)
    torch.manual_seed(7)  # the same noise for every run
    with float32_noise():
        out = model(quantizer)
        loss = rd_loss(out.image, image.to(dtype), out.rate_bits, lmbda)
    loss.backward()
    return loss.item(), {name: p.grad.double().flatten()
                         for name, p in model.named_parameters() if p.grad is not None}


def distance(found: dict[str, torch.Tensor], exact: dict[str, torch.Tensor], part: str) -> float:
    names = [n for n in exact if n.split(".")[0] == part]
    a = torch.cat([found[n] for n in names])
    b = torch.cat([exact[n] for n in names])
    return ((a - b).norm() / b.norm()).item() if b.norm() > 0 else 0.0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("image")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--json")
    args, encoder_options = parser.parse_known_args(argv)
    settings, image = cpu_benchmark_setup(args.image, encoder_options)
    lmbda = settings.training.lmbda
    model, main_quantizer, step = main_phase_step(settings, image)
    model.use_native_kernels(False)
    for _ in range(args.warmup):
        step()
    model.zero_grad(set_to_none=True)
    last = make_preset("intra", lmbda, 2000).phases[-1]
    last_quantizer = QuantizerSetting(last.quantizer_type, last.noise_type,
                                      last.softround_temperature[0], last.noise_parameter[0])
    print(f"{args.image}: {settings.context_provider}, {image.shape[-2]}x{image.shape[-1]}, "
          f"lambda {lmbda}, after {args.warmup} iterations; |g - g64| / |g64|")
    report = {"image": args.image, "options": encoder_options, "warmup": args.warmup}
    for label, quantizer in (("main phase", main_quantizer), ("last phase", last_quantizer)):
        loss64, exact = gradients(model, image, quantizer, lmbda, torch.float64, False)
        loss_torch, by_torch = gradients(model, image, quantizer, lmbda, torch.float32, False)
        loss_native, by_native = gradients(model, image, quantizer, lmbda, torch.float32, True)
        print(f"{label} ({quantizer.quantizer_type}, {quantizer.noise_type}): loss "
              f"{loss64:.6g}, float32 off by {abs(loss_torch / loss64 - 1):.1e} (torch) and "
              f"{abs(loss_native / loss64 - 1):.1e} (kernels)")
        print(f"{'part':>11} {'torch':>9} {'kernels':>9} {'ratio':>6}")
        rows = {}
        for part in dict.fromkeys(n.split(".")[0] for n in exact):
            t, k = distance(by_torch, exact, part), distance(by_native, exact, part)
            rows[part] = {"torch": t, "kernels": k}
            ratio = f"{k / t:6.2f}" if t > 0 else "     -"
            print(f"{part:>11} {t:9.2e} {k:9.2e} {ratio}")
        report[label] = rows
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
