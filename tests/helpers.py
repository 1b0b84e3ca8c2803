# SPDX-License-Identifier: BSD-3-Clause
"""Assertions shared by the test modules."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def one_line_error(capsys, code, expected_code: int = 2) -> str:
    """The captured stderr of a failed command, checked to be one line with no traceback."""
    err = capsys.readouterr().err.strip()
    assert code == expected_code, err
    assert err and "\n" not in err and "Traceback" not in err, err
    return err


def benchmark_script(name: str) -> ModuleType:
    """``benchmarks/NAME.py`` loaded as a module (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def small_encode(folder: Path, name: str, *options: str) -> tuple[int, dict | None]:
    """``mrc-coolchic encode`` of a 24x32 generated image into ``folder/NAME.cool`` (lop, fast
    preset, 40 iterations, CPU) with ``options``; its exit status and ``--results`` record
    (``None`` when none was written)."""
    from coolchic.cli import main
    from coolchic.imageio import demo_image, save_png

    image, results = folder / "small.png", folder / f"{name}.json"
    if not image.exists():
        save_png(demo_image(24, 32, seed=1), image)
    code = main(["encode", "-i", str(image), "-o", str(folder / f"{name}.cool"), "--dec_cfg",
                 "lop", "--preset", "fast", "--n_itr", "40", "--device", "cpu", "--quiet",
                 *options, "--results", str(results)])
    return code, json.loads(results.read_text()) if results.exists() else None
