# SPDX-License-Identifier: BSD-3-Clause
"""mrc-coolchic ab: jobs, resume, outputs."""

from __future__ import annotations

import csv
import json
from dataclasses import replace

import pytest
import torch
from PIL import Image

from coolchic.cli import main
from coolchic.errors import ConfigError
from coolchic.imageio import demo_image, save_png
from coolchic.machine import describe, float_identity
from coolchic.ab.jobs import Job
from coolchic.ab.report import encode_time_ratio, finished_span, machines, rate_estimate_gap
from coolchic.ab.variants import Variant

from .helpers import one_line_error

FAST = ["--n_itr", "40", "--preset", "fast", "--dec_cfg", "lop", "--device", "cpu",
        "--workers", "2"]


def test_variant_specs():
    mrc = Variant.parse("mrc:depth=6")
    assert (mrc.host, mrc.provider, mrc.label, mrc.spec) == ("ours", "mrc", "mrc-depth6", "mrc:depth=6")
    assert mrc.encoder_arguments() == ["--context_provider", "mrc", "--mrc_depth", "6"]
    assert Variant.parse("ours/mrc:depth=6") == mrc
    assert Variant.parse("spatial").encoder_arguments() == ["--context_provider", "spatial"]
    two = Variant.parse("mrc:depth=6,table=a")
    assert two == Variant.parse("mrc:depth=6:table=a")
    assert two.spec == "mrc:depth=6,table=a" and two.label == "mrc-depth6-tablea"
    assert two.encoder_arguments()[2:] == ["--mrc_depth", "6", "--mrc_table", "a"]
    up = Variant.parse("upstream/mrc:depth=2")
    assert (up.host, up.label, up.spec) == ("upstream", "upstream-mrc-depth2", "upstream/mrc:depth=2")
    assert up.encoder_arguments() == ["--context_provider", "mrc", "--mrc_depth", "2"]
    # Upstream's own context is upstream with no provider: not a single added option.
    plain = Variant.parse("upstream/spatial")
    assert plain.encoder_arguments() == [] and plain.label == "upstream-spatial"
    for bad in ("", "Mrc", "mrc:", "mrc:depth", "mrc:depth=6:", "a b", "/mrc", "upstream/",
                "mrc,depth=6"):
        with pytest.raises(ConfigError, match=r"expected \[HOST/\]NAME"):
            Variant.parse(bad)
    with pytest.raises(ConfigError, match="unknown host 'theirs'; hosts: ours, upstream"):
        Variant.parse("theirs/mrc")
    with pytest.raises(ConfigError, match="takes no options"):
        Variant.parse("upstream/spatial:depth=1")
    # Our encoder's own settings after "@".
    floor = Variant.parse("mrc:depth=2@rate_floor_bits=24")
    assert floor.spec == "mrc:depth=2@rate_floor_bits=24"
    assert floor.label == "mrc-depth2+rate_floor_bits24"
    assert floor.encoder_arguments() == ["--context_provider", "mrc", "--mrc_depth", "2",
                                         "--rate_floor_bits", "24"]
    assert Variant.parse(floor.spec) == floor
    with pytest.raises(ConfigError, match="upstream takes none"):
        Variant.parse("upstream/mrc@rate_floor_bits=24")
    with pytest.raises(ConfigError, match="seed is set by ab for every job"):
        Variant.parse("spatial@seed=3")
    with pytest.raises(ConfigError, match=r"expected \[HOST/\]NAME"):
        Variant.parse("spatial@rate_floor_bits")


def test_job_key_follows_every_setting(tmp_path, monkeypatch):
    image = tmp_path / "x.png"
    save_png(demo_image(8, 8), image)
    cfg = tmp_path / "c.cfg"
    cfg.write_text("arm = 8,2\n")
    job = Job(Variant.parse("spatial"), image, 1e-3, 40, "fast", cfg, 0, "cpu", tmp_path / "work")
    key = job.key()
    assert job.key() == key
    assert replace(job, workdir=tmp_path / "elsewhere").key() == key
    for changed in (replace(job, n_itr=41), replace(job, lmbda=2e-3), replace(job, seed=1),
                    replace(job, preset="intra"), replace(job, device="cuda"),
                    replace(job, variant=Variant.parse("mrc:depth=3")),
                    replace(job, variant=Variant.parse("upstream/spatial")),
                    replace(job, cuda_graph=False), replace(job, cudnn_benchmark=False)):
        assert changed.key() != key
    # Eager training or cuDNN's heuristics on a GPU are their own results; upstream jobs do not
    # read the options.
    assert "cuda_graph" not in job.settings() and "cudnn_benchmark" not in job.settings()
    upstream = replace(job, variant=Variant.parse("upstream/spatial"))
    assert replace(upstream, cuda_graph=False, cudnn_benchmark=False).key() == upstream.key()
    cfg.write_text("arm = 16,2\n")
    assert job.key() != key
    cfg.write_text("arm = 8,2\n")
    assert job.key() == key
    # Our encoder's code (not only its version); upstream jobs do not depend on it.
    upstream_key = replace(job, variant=Variant.parse("upstream/spatial")).key()
    monkeypatch.setattr("coolchic.ab.jobs.software_identity", lambda: "0.1.0+changed")
    assert job.key() != key
    assert replace(job, variant=Variant.parse("upstream/spatial")).key() == upstream_key
    monkeypatch.undo()
    cfg.write_text("arm = 8,2\n")
    save_png(demo_image(8, 8, seed=5), image)
    assert job.key() != key


@pytest.mark.parametrize("variant, message", [
    ("spatial@rate_floor_bit=24", "unknown config key or option: rate_floor_bit"),
    ("spatial@rate_floor_bits=30", "rate_floor_bits = 30: must be in 1..24"),
    ("mrc:dept=3", "unknown config key or option: mrc_dept"),
])
def test_a_variant_with_bad_options_fails_before_any_job(variant, message, tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    save_png(demo_image(8, 8), folder / "x.png")
    code = main(["ab", "--images", str(folder), "--out", str(tmp_path / "ab"), "--b", variant,
                 *FAST])
    err = one_line_error(capsys, code)
    assert f"variant '{variant}'" in err and message in err
    assert not (tmp_path / "ab" / "jobs").exists()


@pytest.mark.parametrize("option", ["--cuda_graph", "--cudnn_benchmark"])
def test_ab_gpu_options_reach_our_encoder(option, tmp_path, monkeypatch, capsys):
    """``ab --cuda_graph off`` encodes eagerly, ``--cudnn_benchmark off`` with cuDNN's
    heuristics; the encoder is told so on its command line."""
    from coolchic.ab import jobs

    folder = tmp_path / "images"
    folder.mkdir()
    save_png(demo_image(8, 8), folder / "x.png")
    commands = []

    def stop(command, what, *args, **kwargs):
        commands.append(list(command))
        raise RuntimeError(f"{what}: stopped by the test")

    monkeypatch.setattr(jobs, "run_step", stop)
    for value in ("off", "on"):
        main(["ab", "--images", str(folder), "--lmbda", "0.001", "--out", str(tmp_path / value),
              option, value, *FAST])
        encode = commands[-1]
        assert encode[encode.index(option) + 1] == value
    capsys.readouterr()


@pytest.fixture
def image_folder(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    save_png(demo_image(16, 24, seed=1), folder / "one.png")
    save_png(demo_image(16, 24, seed=2), folder / "two.png")
    return folder


def test_ab_end_to_end_and_resume(image_folder, tmp_path, capsys):
    out = tmp_path / "ab"
    args = ["ab", "--images", str(image_folder), "--lmbda", "0.004,0.001", "--out", str(out),
            *FAST]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "8 jobs (0 finished earlier, 8 to run)" in captured.err
    assert "mrc-depth6 vs spatial on 2 images: BD-rate" in captured.out
    for name in ("spatial.json", "mrc-depth6.json", "per_image.csv", "per_image.json",
                 "summary.json", "rd.png"):
        assert (out / name).is_file(), name
    curve = json.loads((out / "mrc-depth6.json").read_text())
    assert curve["name"] == "mrc-depth6" and curve["lmbda"] == [0.004, 0.001]
    for key in ("psnr-rgb", "bpp", "encoding_time", "decoding_time"):
        assert len(curve["results"][key]) == 2, key
    summary = json.loads((out / "summary.json").read_text())
    for key in ("bd_rate_percent", "bd_rate_cubic_percent", "mean_per_image_bd_rate_percent",
                "bd_rate_latent_percent", "aggregation", "interpolation", "settings"):
        assert key in summary, key
    assert summary["bd_rate_cubic_percent"] is None  # two lambdas: no cubic fit
    assert set(summary["per_image_bd_rate_percent"]) == {"one", "two"}
    for gap in summary["rate_vs_estimate"].values():
        assert gap["n_files"] == 4 and gap["min_percent"] <= gap["mean_percent"] <= gap["max_percent"]
    for peak in summary["encode_peak_rss_mib"].values():  # torch alone takes over 100 MiB
        assert peak["n_jobs"] == 4 and 100 < peak["mean"] <= peak["max"]
    assert summary["machines"] == [describe("cpu")]  # all 8 jobs ran here
    span = summary["jobs_finished_utc"]
    assert span["first"] <= span["last"] and span["last"].endswith("Z")
    rows = list(csv.DictReader((out / "per_image.csv").read_text().splitlines()))
    assert len(rows) == 8 and {r["variant"] for r in rows} == {"spatial", "mrc-depth6"}
    for row in rows:  # rates come from the files, PSNRs from the decoded PNGs
        folder = out / "jobs" / row["variant"] / row["image"] / f"lmbda{row['lmbda']}"
        job = json.loads((folder / "job.json").read_text())
        assert job["bpp"] == 8 * job["bitstream_bytes"] / (16 * 24)
        assert job["psnr_rgb"] == job["encoder_psnr"]
        assert float(row["encode_peak_rss_mib"]) == job["encode_peak_rss_mib"] > 100
        assert job["decode_peak_rss_mib"] > 100
        encoded = json.loads((folder / "encode.json").read_text())
        assert row["cpu_kernels"] == encoded["cpu_kernels"] in ("native", "torch")
    assert Image.open(out / "rd.png").size[0] > 100

    records = sorted(out.glob("jobs/*/*/*/job.json"))
    stamps = [p.stat().st_mtime_ns for p in records]
    assert main(args) == 0
    assert "8 jobs (8 finished earlier, 0 to run)" in capsys.readouterr().err
    assert [p.stat().st_mtime_ns for p in records] == stamps

    # An interrupted job (no job.json) and a new lambda are the only work left.
    (out / "jobs" / "spatial" / "two" / "lmbda0.001" / "job.json").unlink()
    args[args.index("0.004,0.001")] = "0.004,0.001,0.02"
    assert main(args) == 0
    assert "12 jobs (7 finished earlier, 5 to run)" in capsys.readouterr().err
    assert json.loads((out / "spatial.json").read_text())["lmbda"] == [0.02, 0.004, 0.001]


@pytest.mark.parametrize("argv, message", [
    (["--images", "/nonexistent"], "not a folder"),
    (["--lmbda", "0.01,-1"], "distinct positive"),
    (["--b", "spatial"], "are the same variant"),
    (["--names", "three"], "no three.png"),
    (["--dec_cfg", "missing.cfg"], "no such file"),
])
def test_ab_bad_arguments(argv, message, image_folder, tmp_path, capsys):
    base = ["ab", "--images", str(image_folder), "--out", str(tmp_path / "o"), *FAST]
    assert message in one_line_error(capsys, main(base + argv))


def test_rate_estimate_gap_is_relative_to_the_estimate():
    rows = [{"bpp": 1.1, "bpp_estimate": 1.0}, {"bpp": 0.97, "bpp_estimate": 1.0}]
    gap = rate_estimate_gap(rows)
    assert gap["n_files"] == 2
    assert gap["max_percent"] == pytest.approx(10.0) and gap["min_percent"] == pytest.approx(-3.0)
    assert gap["mean_percent"] == pytest.approx(3.5)
    assert rate_estimate_gap([]) is None


def test_encode_time_ratio_pairs_the_same_image_and_lambda():
    ref = [{"image": "a", "lmbda": 1e-3, "encode_wall_time": 10.0},
           {"image": "b", "lmbda": 1e-3, "encode_wall_time": 30.0}]
    cand = [{"image": "a", "lmbda": 1e-3, "encode_wall_time": 5.0},
            {"image": "b", "lmbda": 1e-3, "encode_wall_time": 30.0},
            {"image": "c", "lmbda": 1e-3, "encode_wall_time": 99.0}]  # no reference: ignored
    ratio = encode_time_ratio(ref, cand)
    assert ratio["n_pairs"] == 2
    assert ratio["total"] == pytest.approx(35.0 / 40.0)
    assert ratio["mean"] == pytest.approx(0.75)
    assert (ratio["min"], ratio["max"]) == (0.5, 1.0)
    assert encode_time_ratio(ref, []) is None


def test_machines_and_finish_times_of_the_records():
    box, gpu = {"cpu": "box", "cores": 2}, {"cpu": "box", "cores": 16, "gpu": "H200"}
    rows = [{"machine": box, "finished_utc": "2026-11-28T10:00:00Z"},
            {"finished_utc": "2026-11-28T09:00:00Z"},  # recorded before machines were kept
            {"machine": gpu, "finished_utc": "2026-11-28T11:30:00Z"},
            {"machine": dict(box)}]
    assert machines(rows) == [box, gpu]
    assert finished_span(rows) == {"first": "2026-11-28T09:00:00Z", "last": "2026-11-28T11:30:00Z"}
    assert machines([{}]) == [] and finished_span([{}]) is None


def test_describe_adds_timing_facts_to_the_float_identity():
    found = describe("cpu")
    assert {k: found[k] for k in float_identity()} == float_identity()
    assert found["cores"] >= 1 and found["python"].count(".") == 2
    if not torch.cuda.is_available():  # auto resolves as the encoder does: the CPU here
        assert "gpu" not in found and describe("auto") == found
