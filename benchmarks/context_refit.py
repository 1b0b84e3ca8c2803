# SPDX-License-Identifier: BSD-3-Clause
"""Screen ARM contexts on fixed latents: refit the ARM of a decoded file with each context.

    python benchmarks/context_refit.py FILE.cool [...] --variants spatial mrc:depth=1,coarse=2 \
        [--steps 2000] [--lr 0.01] [--seeds 1] [--json OUT.json]

A joint A/B (``ab``) of two contexts trains two whole models, and at 256x256
and 2000 iterations the training path alone moves a crop's BD-rate by one to
three points, more than the contexts differ. This screen removes that noise:
it decodes each file (its integer latents and its upsampling stay as they
are), then trains an ARM (and IFCE, when the architecture has one) for every
variant on those same latents, minimising their rate (Cool-chic's 16-bit
floor), and prints the latents' bits each variant reaches. ``--start file``
(the default) starts from the file's ARM and IFCE, ``--start fresh`` from
random ones.
The ARM has the same size for every variant, so the MAC/pixel is the same.

What it does not measure: in a real encode the latents and the upsampling
adapt to the context (and, with MRC, the rate's gradient trains the
upsampling). The file's latents were trained with the context the file was
encoded with, which gives that context a head start here: read the screen as
a ranking of contexts on the same data, and confirm a winner with ``ab``.
Float ARM (not quantized) for every variant, and the file's own context
refit the same way, so all are compared alike. ``--seeds 2`` refits each
variant twice (other random starts and batches) to show the refit's own spread.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import torch
from pytorch_optimizer import SOAP

from coolchic.bitstream.codec import integer_latents, read_bitstream
from coolchic.competition import candidates
from coolchic.errors import ConfigError, CoolChicError
from coolchic.hooks import ProviderError
from coolchic.ifce import decoded_stacks, nearest_double
from coolchic.model import CoolChic, provider_setup
from coolchic.plugins import installed_providers


def parse_variant(spec: str) -> tuple[str, dict[str, Any]]:
    """``NAME[:key=value,...]``, one candidate of the encoder's ``context_provider`` grammar
    -> provider name and its options (``NAME_key``)."""
    found = candidates(spec)
    if len(found) > 1:
        raise ConfigError(f"variant {spec!r}: one context per variant, not a competition")
    return found[0].name, found[0].provider_options({})


def fixed_ifce_inputs(model: CoolChic, grids: list[torch.Tensor]) -> list[torch.Tensor | None]:
    """Each grid's IFCE input at the grid's resolution (None where it has no IFCE).

    The IFCE is one linear map per position, so mapping the nearest-upsampled stack equals
    upsampling the mapped one: the fixed stacks are upsampled once.
    """
    if model.ifce is None:
        return [None] * len(grids)
    return [nearest_double(stack, tuple(grid.shape[-2:]))[0].flatten(1).T
            if model.ifce.inputs[k] else None
            for k, (stack, grid) in enumerate(zip(decoded_stacks(grids), grids))]


def refit_bits(model: CoolChic, grids: list[torch.Tensor], coarse_states, flat: torch.Tensor,
               ifce_inputs: list[torch.Tensor | None], steps: int, lr: float, seed: int,
               batch: int, start: CoolChic | None) -> float:
    """Latent bits (``flat``: every coded value) after training ``model``'s ARM (and IFCE)
    alone on fixed ``grids``, from ``start``'s ARM (and IFCE) or, if None, from a fresh random
    start. Where ``ifce_inputs`` (:func:`fixed_ifce_inputs`) holds None, the IFCE's features
    are zeros; if it holds only None, the IFCE is not trained."""
    use_ifce = any(x is not None for x in ifce_inputs)
    with torch.no_grad():
        provider_parts = [
            model.grid_context(k, grids[k], None if j is None else coarse_states[j])
            for k, j in enumerate(model.levels)
        ]
    torch.manual_seed(seed)
    if start is None:
        model.arm.reset_parameters()
        if model.ifce is not None:
            model.ifce.reset_parameters()
    else:
        model.arm.load_state_dict(start.arm.state_dict())
        if model.ifce is not None:
            model.ifce.load_state_dict(start.ifce.state_dict())
    trained = list(model.arm.parameters())
    if use_ifce:
        trained += list(model.ifce.parameters())
    # SOAP, the encoder's optimizer, but with Adam's default betas, no weight decay and the
    # preconditioner refreshed every step (not the encoder's phase settings).
    optimizer = SOAP(trained, lr=lr, betas=(0.9, 0.999), weight_decay=0.0, merge_dims=False,
                     precondition_1d=False, normalize_gradient=False, correct_bias=True,
                     eps=1e-8, precondition_frequency=1, max_precondition_dim=256)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * step / steps)))

    provider_rows = torch.cat(provider_parts)  # fixed: gathered once, not every step

    def contexts() -> torch.Tensor:
        if model.ifce is None:
            return provider_rows
        width = model.ifce.n_features
        features = torch.cat([model.ifce.layers[str(k)](x) if x is not None
                              else p.new_zeros(len(p), width)
                              for k, (p, x) in enumerate(zip(provider_parts, ifce_inputs))])
        return torch.cat([provider_rows, features], dim=1)

    # The IFCE's inputs are fixed too: its features are computed whole (cheap), the ARM
    # on a random batch of latents each step (its rate scaled to all of them).
    generator = torch.Generator().manual_seed(seed)
    n = len(flat)
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        pick = torch.randint(n, (min(batch, n),), generator=generator) if batch < n else None
        context = contexts()
        if pick is None:
            loss = model.latent_rate(flat, context).sum()
        else:
            loss = model.latent_rate(flat[pick], context[pick]).sum() * (n / len(pick))
        loss.backward()
        optimizer.step()
        schedule.step()
    with torch.no_grad():
        return model.latent_rate(flat, contexts()).sum().item()


def screen(path: Path, variants: list[str], steps: int, lr: float, seeds: int,
           batch: int, from_file: bool, use_ifce: bool = True) -> dict:
    registry = installed_providers()
    decoded = read_bitstream(path.read_bytes(), registry)
    source = decoded.model
    arch = source.arch
    with torch.no_grad():
        grids = [g.to(torch.float32)[None, None] for g in integer_latents(source)]
        _, coarse_states = source.upsampling(source.latent_grids(grids))
        flat = torch.cat([grid.reshape(-1) for grid in grids])
        file_bits = source.latent_rate(flat, source.contexts(grids, coarse_states)).sum().item()
        ifce_inputs = fixed_ifce_inputs(source, grids) if use_ifce else [None] * len(grids)
    result = {"file": str(path), "provider": source.provider.name, "file_arm_bits": file_bits,
              "n_pixels": arch.height * arch.width, "variants": {},
              "settings": {"steps": steps, "lr": lr, "batch": batch, "seeds": seeds,
                           "start": "file" if from_file else "fresh", "ifce": use_ifce}}
    for spec in variants:
        name, options = parse_variant(spec)
        provider = registry.get(name).from_options(provider_setup(arch), options)
        model = CoolChic(arch, provider)
        runs = [refit_bits(model, grids, coarse_states, flat, ifce_inputs, steps, lr, seed,
                           batch, source if from_file else None)
                for seed in range(1, seeds + 1)]
        result["variants"][spec] = runs
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--variants", nargs="+", required=True)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--batch", type=int, default=16384, help="latents per step")
    parser.add_argument("--start", choices=("file", "fresh"), default="file",
                        help="ARM (and IFCE) to start from: the file's, or a random one")
    parser.add_argument("--ifce", choices=("on", "off"), default="on",
                        help="off: the IFCE's features are zeros (what the coarse grids add "
                        "through it)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.steps < 1 or args.batch < 1 or args.seeds < 1:
        parser.error("--steps, --batch and --seeds must be at least 1")
    torch.set_num_threads(args.threads)
    results = []
    for path in args.files:
        try:
            result = screen(path, args.variants, args.steps, args.lr, args.seeds, args.batch,
                            args.start == "file", args.ifce == "on")
        except (OSError, ValueError, ProviderError, CoolChicError) as error:
            print(f"context_refit: {path}: {error}", file=sys.stderr)
            return 2
        results.append(result)
        base = min(result["variants"][args.variants[0]])
        cells = "  ".join(
            f"{spec} {100 * (min(r) / base - 1):+6.2f}%"
            + (f" (spread {100 * (max(r) - min(r)) / base:.2f})" if len(r) > 1 else "")
            for spec, r in result["variants"].items())
        print(f"{path.name}: file's ARM {result['file_arm_bits']:.0f} bits, "
              f"{args.variants[0]} refit {base:.0f} bits; {cells}", flush=True)
    if len(results) > 1:
        for spec in args.variants:
            ratios = [min(r["variants"][spec]) / min(r["variants"][args.variants[0]]) - 1
                      for r in results]
            total = (sum(min(r["variants"][spec]) for r in results)
                     / sum(min(r["variants"][args.variants[0]]) for r in results) - 1)
            better = sum(x < 0 for x in ratios)
            print(f"{spec:<40} total {100 * total:+6.2f}%  per file {100 * min(ratios):+.2f} .. "
                  f"{100 * max(ratios):+.2f}, {better} of {len(ratios)} below {args.variants[0]}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
