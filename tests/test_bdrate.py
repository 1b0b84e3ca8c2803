# SPDX-License-Identifier: BSD-3-Clause
"""BD-rate computations and curve files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coolchic.cli import main
from coolchic.ab.curves import load_curve
from coolchic.ab.bdrate import CurveError, bd_rate, pchip_integral

from .conftest import SHARED, needs_shared
from .helpers import one_line_error

PAPER = SHARED / "anchors" / "mrc-paper-kodak"


@pytest.mark.parametrize("interpolation", ["pchip", "cubic"])
def test_constant_rate_ratio_gives_its_percentage(interpolation):
    psnr = [27.0, 30.5, 34.0, 37.2, 41.0]
    rate = [0.1, 0.25, 0.5, 0.8, 1.4]
    assert bd_rate(rate, psnr, [0.75 * r for r in rate], psnr, interpolation) == pytest.approx(-25)
    assert bd_rate(rate, psnr, [1.1 * r for r in rate], psnr, interpolation) == pytest.approx(10)


def test_known_answer_on_a_shifted_log_linear_curve():
    # log-rate linear in PSNR: log r = (q - 30) / 4. Moving the curve 0.4 dB up at
    # every rate is a rate factor exp(-0.1) everywhere on the common range.
    psnr = np.array([28.0, 31.0, 34.0, 37.0])
    rate = np.exp((psnr - 30) / 4)
    expected = 100 * (np.exp(-0.1) - 1)
    assert bd_rate(rate, psnr, rate, psnr + 0.4) == pytest.approx(expected, abs=1e-9)


def test_pchip_integral_of_a_line_and_a_monotone_curve():
    x = [0.0, 1.0, 3.0]
    assert pchip_integral(x, [1.0, 3.0, 7.0], 0.0, 3.0) == pytest.approx(12.0)
    assert pchip_integral(x, [1.0, 3.0, 7.0], 0.5, 2.0) == pytest.approx(5.25)
    # Monotone data stays monotone: no overshoot above the last value.
    x, y = [0.0, 1.0, 2.0, 3.0], [0.0, 0.1, 5.0, 5.1]
    steps = np.linspace(0, 3, 61)
    values = [pchip_integral(x, y, 0, s) for s in steps]
    assert all(b >= a for a, b in zip(values, values[1:]))


@pytest.mark.parametrize(
    "args, message",
    [
        (([1.0], [30.0], [1.0], [30.0]), "at least 2 points"),
        (([1.0, 2.0], [30.0, 31.0], [1.0, 2.0], [35.0, 36.0]), "share no PSNR range"),
        (([1.0, -2.0], [30.0, 31.0], [1.0, 2.0], [30.0, 31.0]), "positive"),
        (([1.0, 2.0], [30.0, 30.0], [1.0, 2.0], [30.0, 31.0]), "same PSNR"),
    ],
)
def test_unusable_curves_are_refused(args, message):
    with pytest.raises(CurveError, match=message):
        bd_rate(*args)


def test_cubic_needs_four_points():
    with pytest.raises(CurveError, match="4 points"):
        bd_rate([1, 2, 3], [30, 32, 34], [1, 2, 3], [30, 32, 34], "cubic")


@needs_shared
@pytest.mark.parametrize("context, expected", [(32, -2.70), (24, -2.34)])
def test_reproduces_the_papers_bd_rates(context, expected):
    reference = load_curve(PAPER / f"depth0-ctx{context}.json")
    depth6 = load_curve(PAPER / f"depth6-ctx{context}.json")
    value = bd_rate(reference.bpp, reference.psnr, depth6.bpp, depth6.psnr)
    assert round(value, 2) == expected


@needs_shared
def test_papers_depth_series_at_32_contexts():
    reference = load_curve(PAPER / "depth0-ctx32.json")
    values = []
    for depth in range(1, 7):
        curve = load_curve(PAPER / f"depth{depth}-ctx32.json")
        values.append(bd_rate(reference.bpp, reference.psnr, curve.bpp, curve.psnr))
    assert [round(v, 2) for v in values] == pytest.approx(
        [-1.17, -1.61, -2.09, -2.25, -2.62, -2.70], abs=0.006)


@needs_shared
def test_cli_on_paper_and_upstream_files(capsys):
    assert main(["bdrate", str(PAPER / "depth0-ctx32.json"),
                 str(PAPER / "depth6-ctx32.json")]) == 0
    assert "-2.70%" in capsys.readouterr().out
    upstream = SHARED / "anchors" / "coolchic-upstream"
    assert main(["bdrate", str(upstream / "v4.0-image-kodak.tsv"),
                 str(upstream / "v5.0-image-kodak.tsv"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["per_image_bd_rate_percent"]) == 24
    assert result["bd_rate_pchip_percent"] < 0  # v5 beats v4


def test_curve_files(tmp_path):
    compressai = tmp_path / "a.json"
    compressai.write_text(json.dumps({"name": "A", "results": {"psnr-rgb": [30, 33],
                                                               "bpp": [0.2, 0.5]}}))
    plain = tmp_path / "b.json"
    plain.write_text(json.dumps({"psnr": [30, 33], "bpp": [0.3, 0.6]}))
    tsv = tmp_path / "c.tsv"
    tsv.write_text("lmbda\tseq_name\tpsnr_db\trate_bpp\n"
                   "0.01\tx\t30\t0.2\n0.001\tx\t34\t0.6\n0.01\ty\t32\t0.4\n0.001\ty\t36\t1.0\n"
                   "0.1\ty\t28\t0.1\n")
    a, b, c = load_curve(compressai), load_curve(plain), load_curve(tsv)
    assert (a.name, a.bpp, a.psnr) == ("A", [0.2, 0.5], [30.0, 33.0])
    assert (b.bpp, b.psnr) == ([0.3, 0.6], [30.0, 33.0])
    # Only lambdas shared by every image are averaged (0.1 is y's alone).
    assert c.bpp == pytest.approx([0.3, 0.8]) and c.psnr == pytest.approx([31.0, 35.0])
    assert c.per_image["y"] == ([0.4, 1.0], [32.0, 36.0])


@pytest.mark.parametrize("content, message", [
    ("{not json", "not JSON"), ('{"results": {"bpp": [1]}}', "expected results.psnr-rgb"),
])
def test_bad_curve_files(tmp_path, content, message, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    with pytest.raises(CurveError, match=message):
        load_curve(bad)
    assert message in one_line_error(capsys, main(["bdrate", str(bad), str(bad)]))
