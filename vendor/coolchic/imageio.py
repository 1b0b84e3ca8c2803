# SPDX-License-Identifier: BSD-3-Clause
"""Reading and writing images, and the generated demo image."""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from coolchic.errors import ImageError
from coolchic.files import write_atomically

#: Largest image we accept (pixels); bigger ones need more memory than we test.
MAX_PIXELS = 4096 * 4096


def _png_bit_depth(path: Path) -> int | None:
    """Bit depth recorded in a PNG's IHDR chunk (None if not a PNG)."""
    with open(path, "rb") as handle:
        head = handle.read(26)
    if len(head) < 26 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return head[24]


def _to_rgb(image: Image.Image, path: Path) -> Image.Image:
    """Convert the modes we accept to 8-bit RGB; refuse the others by name."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("L", "1"):
        return image.convert("RGB")
    if mode == "P":
        image = image.convert("RGBA")  # keeps palette transparency, if any
        mode = "RGBA"
    if mode in ("RGBA", "LA"):
        alpha = np.asarray(image.getchannel("A"))
        if alpha.min() < 255:
            raise ImageError(
                f"{path}: has transparent pixels; only opaque images can be coded (RGB)"
            )
        return image.convert("RGB")
    if mode.startswith("I") or mode == "F":
        raise ImageError(f"{path}: {mode} images (16-bit or float) are not supported; use 8-bit")
    raise ImageError(f"{path}: image mode {mode} is not supported; use 8-bit RGB or grayscale")


def load_image(path: str | os.PathLike) -> Tensor:
    """An image as a ``[1, 3, H, W]`` float tensor on the 8-bit grid in [0, 1].

    Accepted: 8-bit RGB; 8-bit grayscale, 1-bit and palette images (converted to
    RGB); RGBA / LA / palette with transparency when every pixel is opaque.
    Refused with an :class:`ImageError`: missing or unreadable files, 16-bit or
    float images, transparency, other modes, more than :data:`MAX_PIXELS`.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    try:
        if _png_bit_depth(path) == 16:
            raise ImageError(f"{path}: 16-bit PNG images are not supported; use 8-bit")
        with Image.open(path) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageError(f"{path}: {width}x{height} is larger than {MAX_PIXELS} pixels")
            image.load()
            array = np.asarray(_to_rgb(image, path), dtype=np.uint8)
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        reason = " ".join(str(error).split())
        raise ImageError(f"{path}: not a readable image ({reason})") from None
    chw = np.ascontiguousarray(array.transpose(2, 0, 1))
    return torch.from_numpy(chw).unsqueeze(0).float() / 255.0


def as_image(image: str | os.PathLike | np.ndarray | Tensor) -> Tensor:
    """Any image the API takes, as :func:`load_image` returns it: ``[1, 3, H, W]`` in [0, 1].

    * a path: read with :func:`load_image`;
    * a NumPy array ``[H, W, 3]`` or ``[H, W]`` (grayscale) of uint8;
    * a tensor ``[1, 3, H, W]`` or ``[3, H, W]``: uint8, or float in [0, 1],
      rounded to the 8-bit grid (the decoder outputs 8-bit images).
    """
    if isinstance(image, (str, os.PathLike)):
        return load_image(image)
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim not in (2, 3) or (
                image.ndim == 3 and image.shape[2] != 3):
            raise ImageError(f"a NumPy image must be uint8 [H, W, 3] or [H, W], not "
                             f"{image.dtype} {list(image.shape)}")
        rgb = np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image
        image = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))
    if not isinstance(image, Tensor):
        raise ImageError(f"cannot encode a {type(image).__name__}: give a path, an array or a tensor")
    if image.dim() == 3:
        image = image.unsqueeze(0)
    if image.dim() != 4 or image.shape[:2] != (1, 3) or image.numel() == 0:
        raise ImageError(f"an image tensor must be [1, 3, H, W] or [3, H, W], not {list(image.shape)}")
    if image.shape[-2] * image.shape[-1] > MAX_PIXELS:
        raise ImageError(f"{image.shape[-1]}x{image.shape[-2]} is larger than {MAX_PIXELS} pixels")
    if image.dtype == torch.uint8:
        return image.float() / 255.0
    if not image.is_floating_point():
        raise ImageError(f"an image tensor must be uint8 or float, not {image.dtype}")
    image = image.detach().float().cpu()
    if not torch.isfinite(image).all() or image.min() < 0 or image.max() > 1:
        raise ImageError("a float image tensor must hold values in [0, 1]")
    return torch.round(image * 255.0) / 255.0


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
