# SPDX-License-Identifier: BSD-3-Clause
"""Assertions shared by the test modules."""

from __future__ import annotations

import importlib.util
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
