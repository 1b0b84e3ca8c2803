# SPDX-License-Identifier: BSD-3-Clause
"""The README's Python API example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from coolchic.imageio import demo_image, load_image, save_png

README = Path(__file__).resolve().parents[1] / "README.md"


def test_python_api_example(tmp_path, monkeypatch):
    section = README.read_text().split("## Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) == 5
    monkeypatch.chdir(tmp_path)
    save_png(demo_image(32, 48, seed=4), "image.png")
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert Path("image.cool").read_bytes() == namespace["encoded"].bitstream
    assert torch.equal(namespace["image"], namespace["encoded"].image)
    assert namespace["image"].shape == load_image("image.png").shape
