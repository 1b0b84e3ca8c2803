# SPDX-License-Identifier: BSD-3-Clause
"""Reading rate-distortion curves from the files people have.

* CompressAI-style JSON: ``{"results": {"psnr-rgb": [...], "bpp": [...]}}``;
* plain JSON: ``{"psnr": [...], "bpp": [...]}`` (the MRC paper's curves);
* Cool-chic results TSV: one row per image and lambda with ``seq_name``,
  ``lmbda``, ``rate_bpp`` and ``psnr_db`` columns; averaged per lambda over
  the images present at every lambda, and kept per image as well.
"""

from __future__ import annotations

import csv
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from coolchic.ab.bdrate import CurveError


@dataclass
class Curve:
    name: str
    bpp: list[float]
    psnr: list[float]
    per_image: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)


def load_curve(path: str | Path) -> Curve:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise CurveError(f"{path}: cannot read ({error.strerror})") from None
    if path.suffix.lower() in (".tsv", ".txt"):
        return _from_tsv(path, text)
    try:
        data = json.loads(text)
    except ValueError:
        raise CurveError(f"{path}: not JSON (use .tsv for Cool-chic result tables)") from None
    block = data.get("results", data) if isinstance(data, dict) else None
    if not isinstance(block, dict):
        raise CurveError(f"{path}: no curve found")
    psnr = block.get("psnr-rgb", block.get("psnr"))
    bpp = block.get("bpp")
    if not isinstance(psnr, list) or not isinstance(bpp, list):
        raise CurveError(f"{path}: expected results.psnr-rgb and results.bpp (or psnr and bpp)")
    try:
        return Curve(data.get("name", path.stem), [float(v) for v in bpp], [float(v) for v in psnr])
    except (TypeError, ValueError):
        raise CurveError(f"{path}: non-numeric rate or PSNR values") from None


def _from_tsv(path: Path, text: str) -> Curve:
    rows = list(csv.DictReader(text.splitlines(), delimiter="\t"))
    needed = {"seq_name", "lmbda", "rate_bpp", "psnr_db"}
    if not rows or not needed <= set(rows[0]):
        raise CurveError(f"{path}: a results TSV needs columns {', '.join(sorted(needed))}")
    table: dict[str, dict[float, tuple[float, float]]] = {}
    try:
        for row in rows:
            table.setdefault(row["seq_name"].strip(), {})[float(row["lmbda"])] = (
                float(row["rate_bpp"]), float(row["psnr_db"]))
    except ValueError:
        raise CurveError(f"{path}: non-numeric values") from None
    lambdas = sorted(set.intersection(*(set(v) for v in table.values())), reverse=True)
    if not lambdas:
        raise CurveError(f"{path}: no lambda is shared by every image")
    bpp = [statistics.fmean(table[i][lm][0] for i in table) for lm in lambdas]
    psnr = [statistics.fmean(table[i][lm][1] for i in table) for lm in lambdas]
    per_image = {
        image: ([values[lm][0] for lm in lambdas], [values[lm][1] for lm in lambdas])
        for image, values in table.items()
    }
    return Curve(path.stem, bpp, psnr, per_image)
