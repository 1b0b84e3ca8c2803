# SPDX-License-Identifier: BSD-3-Clause
"""benchmarks/provider_step.py: per-iteration time of each context provider, in one process."""

from __future__ import annotations

import json

from coolchic.imageio import demo_image, save_png

from .helpers import benchmark_script


def test_every_provider_is_timed_in_every_round_against_the_first(tmp_path):
    module = benchmark_script("provider_step")
    save_png(demo_image(16, 24, seed=2), tmp_path / "small.png")
    out = tmp_path / "times.json"
    assert module.main([str(tmp_path / "small.png"), "--providers", "spatial,mrc", "--rounds",
                        "3", "--steps", "1", "--json", str(out), "--dec_cfg", "lop",
                        "--threads", "1", "--cpu_kernels", "torch"]) == 0
    report = json.loads(out.read_text())
    times = report["ms_per_iteration"]
    assert list(times) == ["spatial", "mrc"]
    assert all(len(rounds) == 3 and min(rounds) > 0 for rounds in times.values())
    assert report["median_ratio"]["spatial"] == 1.0
    ratios = sorted(m / s for m, s in zip(times["mrc"], times["spatial"]))
    assert report["median_ratio"]["mrc"] == ratios[1]
