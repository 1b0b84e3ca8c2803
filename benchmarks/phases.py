# SPDX-License-Identifier: BSD-3-Clause
"""Where an encode's rate-distortion cost comes from, phase by phase, in our host.

Encodes one image as ``mrc-coolchic encode`` does and prints, after the
warm-up, after each training phase, after the quantization of the networks,
after the networks' RDOQ, after the latents' RDOQ (when on) and for the written file: PSNR, latent and network rates and the
RD cost, as Cool-chic 5.0.1's encoder log prints them (loss x 1000, rates in
bits per pixel, networks counted once quantized), so the two hosts can be set
side by side phase by phase (upstream: the job's ``encode.log``).

    python benchmarks/phases.py IMAGE [encoder options, e.g. --dec_cfg hop --lmbda 0.004]
"""

from __future__ import annotations

import sys
import time

import torch

from coolchic.autotune import tuned_convolutions
from coolchic.bitstream.codec import read_bitstream, write_bitstream
from coolchic.encoder import candidate_factory, resolve_device
from coolchic.heap import kept_heap
from coolchic.imageio import load_image, psnr_8bit
from coolchic.latent_rdoq import rdoq_latents
from coolchic.nnquant import network_bits, quantize_networks
from coolchic.plugins import host_plugin_manager, installed_providers
from coolchic.presets import make_preset
from coolchic.rdoq import rdoq_networks
from coolchic.settings import parse_settings
from coolchic.training import Evaluation, Trainer, evaluate


def row(name: str, evaluation: Evaluation, lmbda: float, seconds: float) -> str:
    n = evaluation.n_pixels
    latent, nn = evaluation.latent_bits / n, evaluation.network_bits / n
    psnr = -10 * torch.log10(torch.tensor(evaluation.mse)).item()
    loss = 1000 * (evaluation.mse + lmbda * (latent + nn))
    return (f"{name:<22} {loss:9.4f} {psnr:9.3f} {latent:10.4f} {nn:9.4f} {latent + nn:9.4f} "
            f"{seconds:8.1f}")


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print(__doc__.strip().splitlines()[-1].strip())
        return 2
    settings = parse_settings(argv[1:], host_plugin_manager())
    device = resolve_device(settings.device)
    image = load_image(argv[0]).to(device)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    # As the encoder does: without the kept heap, every large activation is mapped anew and
    # the page faults take a large share of an iteration's time.
    with tuned_convolutions(settings.cudnn_benchmark, device), kept_heap(settings.keep_memory):
        encode_by_phase(settings, device, image)
    return 0


def encode_by_phase(settings, device: torch.device, image: torch.Tensor) -> None:
    training = settings.training
    lmbda = training.lmbda
    registry = installed_providers()
    make_candidate = candidate_factory(settings, registry, *image.shape[-2:], device)
    preset = make_preset(training.preset, lmbda, training.n_itr, training.start_lr)
    torch.manual_seed(training.seed)
    start = time.monotonic()
    print(f"{'after':<22} {'loss':>9} {'psnr_db':>9} {'latent_bpp':>10} {'nn_bpp':>9} "
          f"{'rate_bpp':>9} {'time_s':>8}")
    trainer = Trainer(image, preset, cuda_graph=settings.cuda_graph)
    model = trainer.warmup(make_candidate)
    print(row("warm-up", evaluate(model, image, lmbda), lmbda, time.monotonic() - start))
    for number, phase in enumerate(preset.phases, start=1):
        evaluation = trainer.train_phase(model, phase, f"phase {number}")
        print(row(f"training phase {number}", evaluation, lmbda, time.monotonic() - start))
    codes = quantize_networks(model, image, lmbda)
    print(row("quantization", evaluate(model, image, lmbda, network_bits(codes)), lmbda,
              time.monotonic() - start))
    if training.network_rdoq:
        codes = rdoq_networks(model, image, lmbda, codes,
                              torch.Generator().manual_seed(training.seed))
        print(row("rdoq", evaluate(model, image, lmbda, network_bits(codes)), lmbda,
                  time.monotonic() - start))
    if training.latent_rdoq:
        rdoq_latents(model, image, lmbda, training.latent_rdoq)
        print(row("latent rdoq", evaluate(model, image, lmbda, network_bits(codes)), lmbda,
                  time.monotonic() - start))
    data = write_bitstream(model, codes)
    decoded = read_bitstream(data, registry)
    bpp = 8 * len(data) / image[0, 0].numel()
    psnr = psnr_8bit(decoded.image, image.cpu())
    print(f"{'file':<22} {1000 * (10 ** (-psnr / 10) + lmbda * bpp):9.4f} {psnr:9.3f} "
          f"{'':>10} {'':>9} {bpp:9.4f} {time.monotonic() - start:8.1f}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
