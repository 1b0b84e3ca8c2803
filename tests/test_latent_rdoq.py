# SPDX-License-Identifier: BSD-3-Clause
"""RDOQ of the latents: it moves coded values, never raises the RD cost, and files still decode."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from coolchic import latent_rdoq
from coolchic.cli import main
from coolchic.encoder import train_model
from coolchic.imageio import demo_image, save_png
from coolchic.latent_rdoq import _owners, rdoq_latents
from coolchic.model import to_8bit
from coolchic.plugins import host_plugin_manager, installed_providers
from coolchic.settings import parse_settings

from .helpers import one_line_error

LMBDA = 0.004


def _cost(model, target) -> float:
    """D + lmbda * latent bits / pixels of the decoder's image, computed here from scratch."""
    with torch.no_grad():
        out = model.decode(model.quantized_latents())
        mse = torch.mean((to_8bit(out.image) - target) ** 2)
        return float(mse + LMBDA * out.rate_bits.sum() / target[0, 0].numel())


@pytest.fixture(scope="module")
def trained():
    """A briefly trained model (no latent RDOQ yet) of a 64x64 image, and the image."""
    target = demo_image(64, 64, seed=3)
    settings = parse_settings(["--dec_cfg", "hop", "--preset", "fast", "--n_itr", "40",
                               "--lmbda", str(LMBDA), "--device", "cpu", "--latent_rdoq", "0"],
                              host_plugin_manager())
    torch.manual_seed(0)
    encoded = train_model(target, settings, installed_providers())
    assert encoded.latent_rdoq is None
    return encoded.model, target


def test_moves_values_and_lowers_the_cost(trained):
    model, target = trained
    model = copy.deepcopy(model)
    before_grids = [g.clone() for g in model.quantized_latents()]
    before = _cost(model, target)
    report = rdoq_latents(model, target, LMBDA, sweeps=1)
    after_grids = model.quantized_latents()
    changed = sum(int((a != b).sum()) for a, b in zip(before_grids, after_grids))
    steps = max(float((a - b).abs().max()) for a, b in zip(before_grids, after_grids))
    assert report.moves == changed > 0 and steps == 1.0  # one step each, in one sweep
    assert report.grids_refined >= 1 and report.decodes > 0
    assert report.loss_before == pytest.approx(before, rel=1e-6)
    assert report.loss_after == pytest.approx(_cost(model, target), rel=1e-6)
    assert report.loss_after < report.loss_before


def test_wrong_charges_are_undone_so_the_cost_never_rises(trained, monkeypatch):
    """With a reach of 0 the lattice is far too dense: moves interact and charges are wrong."""
    model, target = trained
    model = copy.deepcopy(model)
    monkeypatch.setattr(latent_rdoq, "_reach", lambda *args: 0.0)
    monkeypatch.setattr(latent_rdoq, "MIN_MOVES_PER_DECODE", 1)
    before = _cost(model, target)
    report = rdoq_latents(model, target, LMBDA, sweeps=2)
    assert report.grids_undone >= 1  # the safety net was needed, and held
    assert report.loss_after <= report.loss_before
    assert _cost(model, target) == pytest.approx(report.loss_after, rel=1e-6) and \
        report.loss_after <= before


def test_each_position_is_charged_to_the_nearest_lattice_member():
    h, w, spacing, row, col = 10, 12, 4, 1, 2
    for shape, scale in (((10, 12), 1), ((20, 24), 2), ((5, 6), 0.5)):
        owners = _owners(torch.Size(shape), h, w, spacing, row, col, torch.device("cpu"))
        owners = owners.view(shape)
        for y in range(shape[0]):
            for x in range(shape[1]):
                cy, cx = (y + 0.5) / scale - 0.5, (x + 0.5) / scale - 0.5
                members = [(r, c) for r in range(row, h, spacing) for c in range(col, w, spacing)]
                distance = min(max(abs(r - cy), abs(c - cx)) for r, c in members)
                r, c = divmod(int(owners[y, x]), w)
                assert (r, c) in members
                assert max(abs(r - cy), abs(c - cx)) == pytest.approx(distance), (shape, y, x)


def test_an_encode_with_it_decodes_exactly_and_reports_it(tmp_path):
    image, out, results = tmp_path / "x.png", tmp_path / "x.cool", tmp_path / "r.json"
    save_png(demo_image(64, 64, seed=3), image)
    assert main(["encode", "-i", str(image), "-o", str(out), "--dec_cfg", "hop", "--preset",
                 "fast", "--n_itr", "40", "--lmbda", str(LMBDA), "--device", "cpu", "--quiet",
                 "--latent_rdoq", "1", "--results", str(results)]) == 0  # decoded and checked
    report = json.loads(results.read_text())["latent_rdoq"]
    assert report["sweeps"] == 1 and report["moves"] > 0
    assert report["loss_after"] < report["loss_before"]


def test_a_negative_sweep_count_is_refused(tmp_path, capsys):
    image = tmp_path / "x.png"
    save_png(demo_image(16, 16), image)
    code = main(["encode", "-i", str(image), "-o", str(tmp_path / "x.cool"), "--latent_rdoq", "-1"])
    assert "latent_rdoq = -1" in one_line_error(capsys, code)
    assert not (tmp_path / "x.cool").exists()
