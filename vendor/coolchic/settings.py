# SPDX-License-Identifier: BSD-3-Clause
"""Typed encoder settings, built once from the parsed options and passed down.

The parser (:func:`encoder_parser`) is the one source of keys and defaults:
the command line, ``.cfg`` files and the Python API (:func:`parse_settings`)
all go through it, with Cool-chic's precedence default < config file <
command line. What comes out is an :class:`EncoderSettings`: the decoder's
architecture keys, the training keys, the context provider and its options,
and where to run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import pluggy

from coolchic.arm import CODER_FLOOR_BITS, RATE_FLOOR_BITS
from coolchic.competition import Candidate, candidates
from coolchic.config import (
    DEFAULT_CONFIG,
    SHIPPED_CONFIGS,
    OneLineParser,
    add_decoder_options,
    on_off,
    resolve_shipped_configs,
)
from coolchic.errors import ConfigError
from coolchic.presets import PRESETS

#: CPU threads an encode trains with unless told. torch's own default (every core) is about
#: 1.45x faster on an idle 2-core machine, but beside one other busy process each of the
#: thousands of small parallel operations per iteration waits for a thread that shares a
#: core with that process, and the encode slows many times over (benchmarks/speed.sh). The
#: thread count also changes float results, so it is fixed, not adapted to the load.
DEFAULT_THREADS = 1
#: Sweeps of the latents' RDOQ (coolchic.latent_rdoq) unless told otherwise.
DEFAULT_LATENT_RDOQ = 1
CPU_KERNELS = ("auto", "native", "torch")


@dataclass(frozen=True)
class DecoderSettings:
    """The decoder keys of a config file (upstream's ``cfg/dec/intra`` keys, without ``_residue``)."""

    arm: str
    layers_synthesis: str
    latent_resolution: str
    hyperlatent_resolution: str
    ifce_resolution: str
    output_feature_ifce: int
    ups_k_size: int
    ups_preconcat_k_size: int


@dataclass(frozen=True)
class TrainingSettings:
    lmbda: float
    n_itr: int
    start_lr: float
    preset: str
    seed: int
    #: The most bits the training rate charges one latent (Cool-chic: 16; the coder: 24).
    rate_floor_bits: int
    #: Whether the rate's gradient flows back through a provider's coarse context values.
    coarse_gradient: bool
    #: Sweeps of the latents' RDOQ after the networks' (0: none; ``coolchic.latent_rdoq``).
    latent_rdoq: int
    #: Whether the networks' quantized parameters are refined by RDOQ (``coolchic.rdoq``).
    network_rdoq: bool = True


@dataclass(frozen=True)
class EncoderSettings:
    decoder: DecoderSettings
    training: TrainingSettings
    context_provider: str
    #: Every parsed key, plugins' included: what a provider's ``from_options`` reads.
    options: dict[str, Any]
    device: str
    threads: int
    #: Replay each training step from a CUDA graph on a GPU (no effect on the CPU).
    cuda_graph: bool = True
    #: Keep freed memory in the process for reuse while encoding (``coolchic.heap``).
    keep_memory: bool = True
    #: Let cuDNN time its convolution algorithms on a GPU (``coolchic.autotune``).
    cudnn_benchmark: bool = True
    #: auto, native or torch: who runs the CPU training step's fused parts (``coolchic.native``).
    cpu_kernels: str = "auto"

    @property
    def context_candidates(self) -> tuple[Candidate, ...]:
        """``context_provider`` parsed: one candidate, or several that compete in the warm-up."""
        return tuple(candidates(self.context_provider))


def add_encoder_options(parser: OneLineParser, manager: pluggy.PluginManager) -> None:
    """Every settings key: config file, decoder, training, device, and the plugins' keys."""
    parser.add_argument(
        "--dec_cfg", "--dec_cfg_residue", is_config_file=True,
        help=f"decoder config file, or a shipped one: {', '.join(SHIPPED_CONFIGS)} "
        f"(defaults are those of {DEFAULT_CONFIG})",
    )
    add_decoder_options(parser)
    training = parser.add_argument_group("training")
    training.add_argument("--lmbda", type=float, default=1e-3, help="rate constraint (D + lmbda R)")
    training.add_argument("--n_itr", type=int, default=10000, help="training iterations, all phases")
    training.add_argument("--start_lr", type=float, default=1e-2, help="initial learning rate")
    training.add_argument("--preset", choices=PRESETS, default="intra", help="training schedule")
    training.add_argument("--seed", type=int, default=0, help="random seed")
    training.add_argument("--rate_floor_bits", type=int, default=RATE_FLOOR_BITS,
                          help=f"the most bits the training rate charges one latent (default "
                          f"{RATE_FLOOR_BITS}, as Cool-chic; {CODER_FLOOR_BITS}: what the range "
                          "coder can charge, a departure from upstream's loss)")
    training.add_argument("--coarse_gradient", type=on_off, metavar="on|off", default=True,
                          help="with a provider that reads coarser grids (e.g. mrc): on "
                          "(default), the rate trains the upsampling and the coarser latents "
                          "through those values too; off, they are constants for the rate")
    training.add_argument("--latent_rdoq", type=int, default=DEFAULT_LATENT_RDOQ, metavar="SWEEPS",
                          help=f"after the networks' RDOQ, move coded latents by one step where "
                          f"the RD cost falls (default {DEFAULT_LATENT_RDOQ} sweep; 0: off, as "
                          "Cool-chic 5.0.1; the decoder and its MAC/pixel are unchanged)")
    training.add_argument("--network_rdoq", type=on_off, metavar="on|off", default=True,
                          help="after the networks' quantization, move each parameter by a few "
                          "steps where the RD cost falls (default on, as Cool-chic 5.0.1, which "
                          "always does; off: skip it, for images so large that its one trial "
                          "per parameter and shift, each a decoder pass, takes hours on a CPU)")
    training.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda[:N]")
    training.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                          help=f"CPU threads for training (default {DEFAULT_THREADS}: steady beside "
                          "other work; 0: torch's default, every core, faster alone but many "
                          "times slower beside another busy process)")
    training.add_argument("--cuda_graph", type=on_off, metavar="on|off", default=True,
                          help="on a GPU, record each phase's training step once into a CUDA "
                          "graph and replay it (default on: several times faster; off: launch "
                          "every operator from Python)")
    training.add_argument("--keep_memory", type=on_off, metavar="on|off", default=True,
                          help="keep freed memory in the process for reuse while encoding (glibc; "
                          "default on: no page faults on every iteration, about 2x faster on a "
                          "768x512 image, peak memory a third to two thirds higher; the same file either way)")
    training.add_argument("--cudnn_benchmark", type=on_off, metavar="on|off", default=True,
                          help="on a GPU, let cuDNN time its convolution algorithms once per shape "
                          "and keep the fastest (default on: 0.62-0.64x the time per iteration on a "
                          "768x512 image, a few seconds once per process; off: cuDNN's heuristics, "
                          "whose choice does not vary between runs)")
    training.add_argument("--cpu_kernels", choices=CPU_KERNELS, default="auto",
                          help="who runs the ARM's MLP, the upsampling and the synthesis's leading "
                          "1x1/ReLU/1x1 layers in CPU training: "
                          "native, C kernels built once with the machine's C compiler (fewer "
                          "passes over memory; the same maths up to float rounding); torch, its "
                          "own operators (the files of earlier versions); auto (default): native "
                          "where a C compiler works, else torch, saying so")
    manager.hook.coolchic_add_options(parser=parser)


def settings_from_args(args: Any, ignore: Sequence[str] = ()) -> EncoderSettings:
    """Typed settings of a parsed namespace; ``ignore`` names keys that are not settings."""
    values = {k: v for k, v in vars(args).items() if k not in ignore and k != "dec_cfg"}
    if not 1 <= values["rate_floor_bits"] <= CODER_FLOOR_BITS:
        raise ConfigError(f"rate_floor_bits = {values['rate_floor_bits']}: must be in "
                          f"1..{CODER_FLOOR_BITS} (the range coder charges at most "
                          f"{CODER_FLOOR_BITS} bits)")
    if values["latent_rdoq"] < 0:
        raise ConfigError(f"latent_rdoq = {values['latent_rdoq']}: must be 0 (off) or a number "
                          "of sweeps")
    candidates(values["context_provider"])  # a malformed competition fails here
    if values["threads"] < 0:
        raise ConfigError(f"threads = {values['threads']}: must be 0 (every core) or positive")
    decoder = DecoderSettings(**{f.name: values[f"{f.name}_residue"] for f in fields(DecoderSettings)})
    training = TrainingSettings(**{f.name: values[f.name] for f in fields(TrainingSettings)})
    return EncoderSettings(decoder, training, values["context_provider"], values,
                           values["device"], values["threads"], values["cuda_graph"],
                           values["keep_memory"], values["cudnn_benchmark"],
                           values["cpu_kernels"])


def encoder_parser(manager: pluggy.PluginManager, prog: str = "coolchic settings") -> OneLineParser:
    parser = OneLineParser(prog=prog, description="Cool-chic encoder settings")
    add_encoder_options(parser, manager)
    return parser


def parse_settings(argv: Sequence[str], manager: pluggy.PluginManager) -> EncoderSettings:
    """Settings from command-line style arguments (``--dec_cfg hop --lmbda 0.001 ...``)."""
    args = encoder_parser(manager).parse_args(resolve_shipped_configs(argv))
    return settings_from_args(args)
