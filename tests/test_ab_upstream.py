# SPDX-License-Identifier: BSD-3-Clause
"""ab with upstream variants: everything checked before the first job, without upstream itself.

The flows that run genuine upstream Cool-chic are in
integration_tests/test_upstream_ab.py (they need COOLCHIC_SRC).
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from coolchic.ab.jobs import check_decoded_psnr
from coolchic.ab.process import JobError
from coolchic.ab.upstream import CONFIG_FOLDER, UpstreamHost, patch_file
from coolchic.cli import main
from coolchic.commands.ab import _config_settings, resolve_configs
from coolchic.config import shipped_config
from coolchic.errors import ConfigError

from .helpers import one_line_error


def fake_checkout(root: Path, version: str = "5.0.1") -> Path:
    """The shape of an upstream checkout: enough for the checks, not to run anything."""
    (root / "coolchic").mkdir(parents=True)
    (root / "coolchic" / "__init__.py").write_text(f'__version__ = "{version}"\n')
    for script in ("cc_encode.py", "cc_decode.py"):
        (root / script).write_text("raise SystemExit('not upstream')\n")
    (root / CONFIG_FOLDER).mkdir(parents=True)
    for name in ("lop", "mop", "hop", "vhop"):
        (root / CONFIG_FOLDER / f"{name}.cfg").write_text(f"arm_residue = 6,2 ; {name}\n")
    return root


def fake_python(folder: Path, report: dict) -> str:
    """An 'interpreter' that answers the dependency probe with a fixed report."""
    path = folder / "python"
    path.write_text(f"#!/bin/sh\necho '{json.dumps(report)}'\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


GOOD = {"failed": {}, "constriction": "0.4.2", "cuda": False, "providers": ["mrc"]}


def digest(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def images(one_image_folder):
    return one_image_folder


def run_ab(capsys, images, tmp_path, *extra):
    args = ["ab", "--images", str(images), "--out", str(tmp_path / "out"), "--lmbda", "0.001",
            "--a", "upstream/spatial", "--b", "upstream/mrc:depth=2", "--device", "cpu", *extra]
    return one_line_error(capsys, main(args))


@pytest.mark.parametrize("version, message", [
    ("5.0.0", "Cool-chic 5.0.0, not 5.0.1 (git checkout v5.0.1 there)"),
    ("4.2.1", "Cool-chic 4.2.1, not 5.0.1"),
])
def test_a_checkout_that_is_not_5_0_1(version, message, capsys, images, tmp_path):
    source = fake_checkout(tmp_path / "src", version)
    assert message in run_ab(capsys, images, tmp_path, "--upstream", str(source))


def test_not_a_checkout(capsys, images, tmp_path):
    assert "not a folder" in run_ab(capsys, images, tmp_path, "--upstream", str(tmp_path / "x"))
    (tmp_path / "empty").mkdir()
    err = run_ab(capsys, images, tmp_path, "--upstream", str(tmp_path / "empty"))
    assert "not a Cool-chic checkout (no cc_encode.py, cc_decode.py, coolchic, cfg" in err


def test_an_already_patched_checkout(capsys, images, tmp_path):
    source = fake_checkout(tmp_path / "src")
    (source / "coolchic" / "hooks.py").write_text("")
    assert "already patched" in run_ab(capsys, images, tmp_path, "--upstream", str(source))


def test_no_checkout_given(capsys, images, tmp_path, monkeypatch):
    monkeypatch.delenv("COOLCHIC_SRC", raising=False)
    assert "needs --upstream PATH (or COOLCHIC_SRC)" in run_ab(capsys, images, tmp_path)


def test_a_patch_that_does_not_apply_leaves_nothing(capsys, images, tmp_path):
    source = fake_checkout(tmp_path / "src")
    before = digest(source)
    python = fake_python(tmp_path, GOOD)
    err = run_ab(capsys, images, tmp_path, "--upstream", str(source), "--upstream-python", python)
    assert "patches/coolchic-v5.0.1.patch does not apply to" in err
    assert digest(source) == before
    assert list((tmp_path / "out" / "upstream").iterdir()) == []  # no partial copy


def test_missing_dependencies_are_named_with_the_install_command(capsys, images, tmp_path,
                                                                 monkeypatch):
    source = fake_checkout(tmp_path / "src")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "einops.py").write_text("raise ImportError('not installed for this test')\n")
    monkeypatch.setenv("PYTHONPATH", str(broken))
    err = run_ab(capsys, images, tmp_path, "--upstream", str(source))
    assert "cannot run upstream Cool-chic: missing einops" in err
    assert "-m pip install einops" in err
    assert not (tmp_path / "out" / "upstream").exists()  # checked before copying


@pytest.mark.parametrize("report, extra, message", [
    (GOOD | {"constriction": "0.4.1"}, [],
     "missing constriction==0.4.2 (it has constriction 0.4.1); install with:"),
    (GOOD | {"failed": {"torchvision": "RuntimeError"}}, [],
     "missing torchvision; install with: "),
    (GOOD | {"providers": []}, [], "has no context provider mrc installed"),
    (GOOD, ["--device", "cuda"], "--device cuda: CUDA is not available to"),
])
def test_interpreter_checks(report, extra, message, capsys, images, tmp_path):
    source = fake_checkout(tmp_path / "src")
    python = fake_python(tmp_path, report)
    err = run_ab(capsys, images, tmp_path, "--upstream", str(source), "--upstream-python",
                 python, *extra)
    assert message in err


def test_an_interpreter_that_does_not_run(capsys, images, tmp_path):
    source = fake_checkout(tmp_path / "src")
    err = run_ab(capsys, images, tmp_path, "--upstream", str(source), "--upstream-python",
                 str(tmp_path / "nowhere" / "python3"))
    assert "cannot run it" in err


@pytest.mark.parametrize("extra, message", [
    (["--preset", "fast"], "--preset fast: upstream's presets are intra, debug"),
    (["--preset", "intra", "--n_itr", "1000"], "--n_itr 1000: the intra preset needs at least 2000"),
])
def test_presets_per_host(extra, message, capsys, images, tmp_path):
    assert message in run_ab(capsys, images, tmp_path, *extra)


def test_ours_has_no_debug_preset(capsys, images, tmp_path):
    args = ["ab", "--images", str(images), "--out", str(tmp_path / "out"), "--preset", "debug"]
    assert "--preset debug: our host's presets are intra, fast" in one_line_error(capsys, main(args))


def _prepared(tmp_path) -> UpstreamHost:
    root = fake_checkout(tmp_path / "copy")
    return UpstreamHost(tmp_path / "src", root, "python", "0" * 64, "1" * 64)


def test_config_names_resolve_per_host(tmp_path):
    upstream = _prepared(tmp_path)
    paths = resolve_configs("lop", ["upstream"], upstream)
    assert paths == {"upstream": (upstream.root / CONFIG_FOLDER / "lop.cfg").resolve()}
    assert resolve_configs(None, ["upstream"], upstream)["upstream"].name == "hop.cfg"
    assert resolve_configs(None, ["ours"], None)["ours"] == shipped_config("hop").resolve()
    with pytest.raises(ConfigError, match="upstream names only lop, mop, hop, vhop"):
        resolve_configs("paper", ["upstream"], upstream)


def test_mixed_hosts_refuse_a_name_meaning_two_architectures(tmp_path):
    upstream = _prepared(tmp_path)
    with pytest.raises(ConfigError, match="the two hosts' configs of that name differ"):
        resolve_configs("hop", ["ours", "upstream"], upstream)
    # Upstream's own files hold the same settings as ours of the same name: accepted.
    (upstream.root / CONFIG_FOLDER / "hop.cfg").write_text(shipped_config("hop").read_text())
    assert resolve_configs("hop", ["ours", "upstream"], upstream)["ours"] == \
        shipped_config("hop").resolve()
    one = tmp_path / "one.cfg"
    one.write_text("arm = 8,2\n")
    assert resolve_configs(str(one), ["ours", "upstream"], upstream) == {
        "ours": one.resolve(), "upstream": one.resolve()}
    # The comparison reads settings: upstream's key suffix and comments do not count.
    a, b = tmp_path / "a.cfg", tmp_path / "b.cfg"
    a.write_text("; v5\narm_residue = 8,2 ; ARM\n")
    b.write_text("arm=8,2\n")
    assert _config_settings(a) == _config_settings(b) == {"arm": "8,2"}


def test_the_patch_ships_with_the_package():
    assert patch_file().is_file()
    repo_copy = Path(__file__).resolve().parents[1] / "patches" / "coolchic-v5.0.1.patch"
    assert repo_copy.read_bytes() == patch_file().read_bytes()


# Figures of one upstream job on an H200 (whole kodim02, lambda 0.02): the encoder's
# float PSNR on the GPU, the decode cc_encode.py ran on the CPU, and the decoded PNG.
GPU_ENCODER, OWN_DECODE, PNG = 29.178990, 29.1788774, 29.178880098551872


def test_upstream_files_are_checked_against_upstreams_own_decode():
    record = {"host": "upstream", "encoder_psnr": GPU_ENCODER, "decoder_psnr": OWN_DECODE,
              "psnr_rgb": PNG}
    check_decoded_psnr("kodim02", record)  # 1.1e-4 dB from the encoder's: not a decoding error
    with pytest.raises(JobError, match=r"kodim02: decoded PSNR 29\.179080 dB differs from "
                                       r"upstream's own decode 29\.178877"):
        check_decoded_psnr("kodim02", {**record, "psnr_rgb": PNG + 2e-4})
    del record["decoder_psnr"]  # the host says which check applies, not the keys present
    with pytest.raises(JobError, match="kodim02: upstream's record has no decoder_psnr"):
        check_decoded_psnr("kodim02", record)


def test_our_files_must_decode_to_the_encoders_psnr_exactly():
    ours = {"host": "ours", "encoder_psnr": PNG, "psnr_rgb": PNG}
    check_decoded_psnr("x", ours)
    with pytest.raises(JobError, match="differs from the encoder's"):
        check_decoded_psnr("x", {**ours, "psnr_rgb": PNG + 1e-9})
    with pytest.raises(JobError, match="differs from the encoder's"):  # a stray key changes nothing
        check_decoded_psnr("x", {**ours, "psnr_rgb": PNG + 1e-9, "decoder_psnr": PNG + 1e-9})
