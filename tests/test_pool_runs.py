# SPDX-License-Identifier: BSD-3-Clause
"""benchmarks/pool_runs.py: BD-rates of several ab runs taken together."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from coolchic.ab.report import TABLE_COLUMNS

from .helpers import benchmark_script, one_line_error

LAMBDAS = (0.02, 0.004, 0.001, 0.0004)


@pytest.fixture(scope="module")
def pool():
    return benchmark_script("pool_runs")


def rows(image: str, rate_factor: float) -> list[dict]:
    """Reference and candidate rows on one image; the candidate's rates scaled at equal PSNR."""
    found = []
    for step, lmbda in enumerate(LAMBDAS):
        bpp, psnr = 0.1 * 2.0**step * (1.3 if image == "two" else 1.0), 28.0 + 2.7 * step
        for variant, factor in (("upstream-spatial", 1.0), ("spatial", rate_factor)):
            found.append({"host": "ours", "variant": variant, "image": image, "lmbda": lmbda,
                          "bpp": bpp * factor, "psnr_rgb": psnr, "latent_bpp": bpp * factor / 3,
                          "encoding_time": 10.0, "decoding_time": 0.1})
    return found


def write_json_run(folder: Path, table: list[dict]) -> Path:
    folder.mkdir(parents=True)
    (folder / "per_image.json").write_text(json.dumps({"rows": table}))
    return folder


def write_csv_run(folder: Path, table: list[dict]) -> Path:
    folder.mkdir(parents=True)
    with (folder / "per_image.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=TABLE_COLUMNS)
        writer.writeheader()
        writer.writerows({k: r.get(k, "") for k in TABLE_COLUMNS} for r in table)
    return folder


def test_a_csv_folder_reads_as_its_json_would(pool, tmp_path):
    table = rows("one", 0.9) + rows("two", 1 / 3)  # 1/3: a float whose text must round-trip
    from_csv = pool.folder_rows(write_csv_run(tmp_path / "csv", table))
    from_json = pool.folder_rows(write_json_run(tmp_path / "json", table))
    keys = ("variant", "image", "lmbda", "bpp", "psnr_rgb", "latent_bpp")
    assert [{k: r[k] for k in keys} for r in from_csv] == [{k: r[k] for k in keys}
                                                          for r in from_json]
    assert from_csv[0]["encode_wall_time"] == "" and isinstance(from_csv[0]["lmbda"], float)


def test_joined_folders_make_one_run_and_runs_pool(pool, tmp_path, capsys):
    seed0 = (f"{write_json_run(tmp_path / 's0-one', rows('one', 0.9))}+"
             f"{write_csv_run(tmp_path / 's0-two', rows('two', 0.9))}")
    seed1 = str(write_json_run(tmp_path / "s1", rows("one", 0.8) + rows("two", 0.8)
                               + rows("three", 0.5)))
    out = tmp_path / "pooled.json"
    code = pool.main(["upstream-spatial", "spatial", seed0, seed1, "--names", "one,two",
                      "--json", str(out)])
    assert code == 0, capsys.readouterr().err
    pooled = json.loads(out.read_text())
    assert pooled["bd_rate_percent_per_run"] == pytest.approx([-10.0, -20.0])
    assert pooled["per_image_bd_rate_percent"] == pytest.approx({"one": -15.0, "two": -15.0})
    assert pooled["runs"] == [seed0, seed1] and pooled["names"] == ["one", "two"]
    assert "2 runs x 2 images" in capsys.readouterr().out


@pytest.mark.parametrize("case, message", [
    ("twice", "is in both"),
    ("missing name", "no rows for four"),
    ("not a run", "no per_image.json or per_image.csv"),
    ("other images", "do not hold the same images and lambdas"),
])
def test_runs_that_cannot_be_pooled(pool, tmp_path, capsys, case, message):
    one = str(write_json_run(tmp_path / "one", rows("one", 0.9)))
    other = str(write_json_run(tmp_path / "other", rows("two", 0.9)))
    argv = {"twice": [f"{one}+{one}"], "missing name": [one, "--names", "one,four"],
            "not a run": [str(tmp_path)], "other images": [one, other]}[case]
    err = one_line_error(capsys, pool.main(["upstream-spatial", "spatial", *argv]))
    assert err.startswith("pool_runs.py: ") and message in err
