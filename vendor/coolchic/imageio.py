# SPDX-License-Identifier: BSD-3-Clause
"""Reading and writing images, and the generated demo image."""

from __future__ import annotations

import io
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from coolchic.errors import ImageError

#: Largest image we accept (pixels); bigger ones need more memory than we test.
MAX_PIXELS = 4096 * 4096


def load_image(path: str | os.PathLike) -> Tensor:
    """An 8-bit RGB image as a ``[1, 3, H, W]`` float tensor in [0, 1]."""
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    try:
        with Image.open(path) as image:
            image.load()
            mode, size = image.mode, image.size
            if mode != "RGB":
                raise ImageError(
                    f"{path}: image mode {mode} is not supported yet; give an 8-bit RGB image"
                )
            array = np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"{path}: not a readable image ({error})") from None
    width, height = size
    if width * height > MAX_PIXELS:
        raise ImageError(f"{path}: {width}x{height} is larger than {MAX_PIXELS} pixels")
    chw = np.ascontiguousarray(array.transpose(2, 0, 1))
    return torch.from_numpy(chw).unsqueeze(0).float() / 255.0


def image_to_uint8(image: Tensor) -> np.ndarray:
    """``[1, 3, H, W]`` in [0, 1] -> ``[H, W, 3]`` uint8 (clamped, rounded)."""
    array = torch.round(torch.clamp(image.detach(), 0.0, 1.0) * 255.0)
    return array[0].permute(1, 2, 0).to(torch.uint8).cpu().numpy()


def psnr_8bit(image: Tensor, reference: Tensor) -> float:
    """PSNR in dB of two images on the 8-bit grid, from exact integer differences."""
    diff = image_to_uint8(image).astype(np.int64) - image_to_uint8(reference).astype(np.int64)
    squared = int(np.sum(diff * diff))
    if squared == 0:
        return math.inf
    return 10.0 * math.log10(255.0**2 * diff.size / squared)


def write_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_png(image: Tensor, path: str | os.PathLike) -> None:
    buffer = io.BytesIO()
    Image.fromarray(image_to_uint8(image), mode="RGB").save(buffer, format="PNG")
    write_atomically(path, buffer.getvalue())


def demo_image(height: int = 64, width: int = 96, seed: int = 0) -> Tensor:
    """A synthetic photo-like test image: smooth shading, edges, a disc and texture.

    Deterministic for a given size and seed, so examples and tests need no files.
    """
    generator = torch.Generator().manual_seed(seed)
    y = torch.linspace(0, 1, height).view(-1, 1)
    x = torch.linspace(0, 1, width).view(1, -1)
    sky = torch.stack([0.35 + 0.3 * y + 0 * x, 0.55 + 0.2 * y + 0 * x, 0.85 - 0.1 * y + 0 * x])
    hills = (y > 0.6 + 0.12 * torch.sin(2 * math.pi * 1.5 * x)).float()
    ground = torch.stack([0.25 + 0.2 * x * (1 + 0 * y), 0.45 + 0 * y * x, 0.2 + 0.1 * y + 0 * x])
    image = sky * (1 - hills) + ground * hills
    disc = ((x - 0.72) ** 2 + ((y - 0.28) * height / width) ** 2 < 0.012).float()
    image = image * (1 - disc) + torch.tensor([0.95, 0.85, 0.3]).view(3, 1, 1) * disc
    texture = 0.04 * torch.randn(1, height, width, generator=generator) * hills
    stripes = 0.05 * torch.sin(2 * math.pi * 12 * (x + 0.3 * y)) * hills
    image = torch.clamp(image + texture + stripes, 0, 1)
    return torch.round(image.unsqueeze(0) * 255) / 255
