# SPDX-License-Identifier: BSD-3-Clause
"""Golden ``.cool`` files: what the encoder wrote before a refactor must not change.

The files in ``tests/data/golden`` were written once, by the commit named in
their manifest, and are regenerated only on request::

    python -m tests.golden --write

Each case encodes the same small generated image with a shipped (or v5-sized)
configuration, a context provider and seed 0, without the latents' RDOQ (which
came after the files and is optional: with it off, the encoder must still write
them byte for byte; tests/test_latent_rdoq.py covers the pass) and with torch's
operators for every layer (``--cpu_kernels torch``: the C kernels came later
and round differently; tests/test_native.py covers them). The manifest records the machine,
because float training on another CPU type may round differently; the tests
that re-encode from scratch compare bytes only on a machine like it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from coolchic.machine import float_identity

FOLDER = Path(__file__).parent / "data" / "golden"
MANIFEST = FOLDER / "manifest.json"
#: Files of older versions: two golden cases as commit 44e9109 wrote them, before the magic
#: named the format (mrcc-*, MRCC), two as commit a88e4ca wrote them, before version 2 added
#: Cool-chic 5's output transform, hyperlatents and IFCE (cool-v1-*, v4's lop and hop),
#: two as commit 738697e wrote them, before version 3 packed the header (cool-v2-*, hop),
#: and two as commit 55d7973 wrote them, before version 4 range coded the networks'
#: integers (cool-v3-*, hop: the golden files of that version).
LEGACY = Path(__file__).parent / "data" / "legacy"
OLD_MAGIC = b"MRCC"
V5_SIZED_CONFIG = "arm = 14,2/stabiliser\nlayers_synthesis = 8-1-linear-relu,3-1-linear-none\n"

#: name -> (config, encoder options)
CASES = {
    f"{config}-{label}": (config, options)
    for config in ("lop", "mop", "hop", "v4-hop", "paper")
    for label, options in (("spatial", ["--context_provider", "spatial"]),
                           ("mrc6", ["--context_provider", "mrc", "--mrc_depth", "6"]))
} | {"v5sized-mrc6": ("v5sized", ["--context_provider", "mrc", "--mrc_depth", "6"])}


def image_path(folder: Path) -> Path:
    from coolchic.imageio import demo_image, save_png

    path = folder / "golden.png"
    save_png(demo_image(32, 48, seed=3), path)
    return path


def config_path(name: str, folder: Path) -> str:
    if name != "v5sized":
        return name
    path = folder / "v5sized.cfg"
    path.write_text(V5_SIZED_CONFIG)
    return str(path)


def encode_arguments(name: str, image: Path, output: Path, folder: Path) -> list[str]:
    config, options = CASES[name]
    return ["encode", "-i", str(image), "-o", str(output), "--dec_cfg", config_path(config, folder),
            "--lmbda", "0.002", "--preset", "fast", "--n_itr", "150", "--seed", "0",
            "--threads", "1", "--device", "cpu", "--quiet", "--latent_rdoq", "0", "--cpu_kernels",
            "torch", *options]


def write_all() -> None:
    from coolchic.cli import main

    FOLDER.mkdir(parents=True, exist_ok=True)
    hashes = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        image = image_path(folder)
        for name in CASES:
            output = FOLDER / f"{name}.cool"
            assert main(encode_arguments(name, image, output, folder)) == 0, name
            hashes[name] = hashlib.sha256(output.read_bytes()).hexdigest()
    # The commit the files were written on; "-dirty" when the encoder's change that
    # regenerates them was not committed yet (it lands together with them).
    commit = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=40"],
                            capture_output=True, text=True, cwd=FOLDER).stdout.strip()
    MANIFEST.write_text(json.dumps({"commit": commit, "machine": float_identity(), "sha256": hashes},
                                   indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.golden --write   (rewrites tests/data/golden)")
    write_all()
