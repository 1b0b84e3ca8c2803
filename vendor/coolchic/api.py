# SPDX-License-Identifier: BSD-3-Clause
"""The Python API: encode an image to a ``.cool`` bitstream, decode one back.

The command line calls these functions too, so a notebook or another tool
gets exactly what ``mrc-coolchic encode`` and ``decode`` do, without a
subprocess::

    from coolchic import api

    settings = api.encoder_settings(dec_cfg="lop", lmbda=0.001, preset="fast", n_itr=400)
    encoded = api.encode("image.png", settings)        # or a uint8 array, or a tensor
    open("image.cool", "wb").write(encoded.bitstream)
    image = api.decode(encoded.bitstream).image          # [1, 3, H, W] in [0, 1]
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import Tensor

from coolchic.autotune import tuned_convolutions
from coolchic.bitstream.codec import DecodedImage, read_bitstream
from coolchic.config import on_off_text
from coolchic.errors import ConfigError
from coolchic.heap import kept_heap
from coolchic.hooks import ProviderRegistry
from coolchic.imageio import as_image
from coolchic.model import CoolChic
from coolchic.plugins import host_plugin_manager, installed_providers
from coolchic.settings import EncoderSettings, parse_settings
from coolchic.threads import torch_threads

if TYPE_CHECKING:
    from coolchic.training import ProgressCallback

__all__ = ["Encoded", "EncoderSettings", "decode", "encode", "encoder_settings"]


def encoder_settings(*argv: str, **keys: Any) -> EncoderSettings:
    """Settings exactly as ``mrc-coolchic encode`` parses them.

    Keys are the command-line / config-file keys, given as arguments
    (``"--dec_cfg", "hop"``) or keywords (``dec_cfg="hop", mrc_depth=6``;
    an on/off key takes a bool or ``"on"``/``"off"``: ``keep_memory=False``);
    precedence is default < config file < what is given here.
    """
    args = list(argv)
    for key, value in keys.items():
        args += [f"--{key}", on_off_text(value) if isinstance(value, bool) else str(value)]
    return parse_settings(args, host_plugin_manager())


@dataclass(frozen=True)
class Encoded:
    """An encoded image: its bitstream, the decoded image, the results, the trained model."""

    bitstream: bytes | None  # None with encode(..., write=False)
    image: Tensor | None  # the bitstream decoded, [1, 3, H, W] on the 8-bit grid
    results: dict[str, Any]  # what ``mrc-coolchic encode --results`` writes
    model: CoolChic


def encode(
    image: str | os.PathLike | np.ndarray | Tensor,
    settings: EncoderSettings | None = None,
    *,
    write: bool = True,
    registry: ProviderRegistry | None = None,
    progress: ProgressCallback | None = None,
    name: str | None = None,
) -> Encoded:
    """Overfit a decoder to ``image`` and write its bitstream.

    The bitstream is decoded back and checked against the encoder's
    reconstruction; ``results`` then report the decoded image's PSNR and the
    file's rate. With ``write=False`` only the model is trained and the rate
    is the estimate.
    """
    # Imported here: the training stack (SOAP's library alone takes over a second to import)
    # is not needed to decode, and a decode process starts without it.
    from coolchic.encoder import make_bitstream, resolve_device, results_record, train_model

    target = as_image(image)
    settings = settings if settings is not None else encoder_settings()
    registry = registry if registry is not None else installed_providers()
    if name is None:
        name = str(image) if isinstance(image, (str, os.PathLike)) else f"<{type(image).__name__}>"
    device = resolve_device(settings.device)
    with (torch_threads(settings.threads), kept_heap(settings.keep_memory) as kept,
          tuned_convolutions(settings.cudnn_benchmark, device) as tuned):
        encoded = train_model(target, settings, registry, progress)
        written = make_bitstream(encoded, target, registry) if write else None
    record = results_record(encoded, settings, name, written) | {"memory_kept": kept,
                                                                "cudnn_benchmark": tuned}
    return Encoded(bitstream=written.data if written else None,
                   image=written.decoded.image if written else None,
                   results=record, model=encoded.model)


def decode(data: bytes, *, batch: int = 0, registry: ProviderRegistry | None = None) -> DecodedImage:
    """Rebuild the image of a ``.cool`` bitstream; ``.image`` is ``[1, 3, H, W]`` in [0, 1].

    :param batch: at most this many latents per ARM call (0: a whole
        wavefront step); the image is the same whatever the batch.
    """
    if batch < 0:
        raise ConfigError(f"batch = {batch}: must be 0 (a whole step) or positive")
    registry = registry if registry is not None else installed_providers()
    return read_bitstream(bytes(data), registry, max_batch=batch)
