# SPDX-License-Identifier: BSD-3-Clause
"""coolchic.native: the C kernels compute what torch's operators do, and the encoder's
--cpu_kernels choice is kept, recorded, and refused with one line where it cannot be."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
import torch.nn.functional as F

from coolchic import encoder, native
from coolchic.arm import Arm
from coolchic.encoder import candidate_factory
from coolchic.imageio import demo_image, save_png
from coolchic.model import QuantizerSetting
from coolchic.native.pointwise import pointwise_pair
from coolchic.plugins import host_plugin_manager, installed_providers
from coolchic.presets import make_preset
from coolchic.settings import parse_settings
from coolchic.step import rd_loss
from coolchic.synthesis import Synthesis, parse_synthesis_layers
from coolchic.upsampling import UpsamplingTConv

from .helpers import benchmark_script, one_line_error, small_encode

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc)")


def _eager(x, w1, b1, w2, b2):
    return F.conv2d(F.relu(F.conv2d(x, w1, b1)), w2, b2)


@pytest.mark.parametrize("cin, hid, cout, height, width", [
    (7, 48, 3, 37, 29),    # hop's layers; pixels not a multiple of the kernel's tile
    (5, 9, 2, 16, 16),     # exactly one tile
    (3, 16, 3, 1, 700),    # three tiles, the last one short
])
def test_the_pair_and_its_gradients_match_torch(cin, hid, cout, height, width):
    generator = torch.Generator().manual_seed(cin * hid)
    x = torch.randn(1, cin, height, width, generator=generator)
    weights = [torch.randn(hid, cin, 1, 1, generator=generator) * 0.4,
               torch.randn(hid, generator=generator) * 0.2,
               torch.randn(cout, hid, 1, 1, generator=generator) * 0.4,
               torch.randn(cout, generator=generator) * 0.2]
    gy = torch.randn(1, cout, height, width, generator=generator)
    results = []
    for function in (_eager, pointwise_pair):
        inputs = [t.clone().requires_grad_() for t in (x, *weights)]
        y = function(*inputs)
        y.backward(gy)
        results.append((y.detach(), [t.grad for t in inputs]))
    (expected, expected_grads), (found, found_grads) = results
    assert found.shape == expected.shape
    torch.testing.assert_close(found, expected, rtol=1e-5, atol=1e-5)
    for got, want in zip(found_grads, expected_grads):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4 * want.abs().max().item())
    # Deterministic: the same inputs give the same bits.
    again = pointwise_pair(x, *weights)
    assert torch.equal(again, found)


def test_the_pair_refuses_what_it_does_not_compute():
    w1, b1, w2, b2 = torch.ones(4, 2, 1, 1), torch.ones(4), torch.ones(3, 4, 1, 1), torch.ones(3)
    with pytest.raises(ValueError, match="one float32 CPU image"):
        pointwise_pair(torch.ones(2, 2, 4, 4), w1, b1, w2, b2)
    with pytest.raises(ValueError, match="float64"):
        pointwise_pair(torch.ones(1, 2, 4, 4, dtype=torch.float64), w1, b1, w2, b2)


def test_the_synthesis_uses_it_only_to_train_on_the_cpu():
    layers, stabiliser = parse_synthesis_layers("16-1-linear-relu,X-1-linear-none,X-3-residual-relu")
    synthesis = Synthesis(7, layers, stabiliser)
    x = torch.rand(1, 7, 12, 10)
    reference = synthesis(x)
    synthesis.native = True
    assert synthesis.uses_native(x)
    trained = synthesis(x)
    assert "PointwisePairBackward" in _graph(trained) and "PointwisePairBackward" not in \
        _graph(reference)
    torch.testing.assert_close(trained, reference, rtol=1e-5, atol=1e-6)
    with torch.no_grad():  # evaluation, quantization, RDOQ, decoding: torch, bit for bit
        assert not synthesis.uses_native(x)
        synthesis.native = False
        plain = synthesis(x)
        synthesis.native = True
        assert torch.equal(synthesis(x), plain)
    other, _ = parse_synthesis_layers("X-3-residual-relu,X-1-linear-none")
    assert not Synthesis(3, other, False).__dict__["_pair"]  # no leading 1x1/ReLU/1x1


def _graph(tensor) -> set[str]:
    """The names of the backward nodes ``tensor`` was computed through."""
    names, stack = set(), [tensor.grad_fn]
    while stack:
        node = stack.pop()
        if node is not None and type(node).__name__ not in names:
            names.add(type(node).__name__)
            stack.extend(next_node for next_node, _ in node.next_functions)
    return names


def _encode(tmp_path, kernels: str, name: str) -> tuple[int, dict | None]:
    return small_encode(tmp_path, name, "--latent_rdoq", "0", "--cpu_kernels", kernels)


def test_an_encode_records_its_kernels_and_its_file_decodes(tmp_path):
    records = {}
    for kernels in ("native", "torch", "auto"):
        code, records[kernels] = _encode(tmp_path, kernels, kernels)
        assert code == 0  # the encode decodes its file and checks it
    assert [records[k]["cpu_kernels"] for k in ("native", "torch", "auto")] == \
        ["native", "torch", "native"]
    assert (tmp_path / "native.cool").read_bytes() == (tmp_path / "auto.cool").read_bytes()


def test_a_training_step_gets_torch_gradients_for_every_parameter():
    """The whole model (hop, MRC: the coarse states feed the ARM too), native against torch."""
    target = demo_image(24, 32, seed=4)
    settings = parse_settings(["--dec_cfg", "hop", "--context_provider", "mrc", "--device",
                               "cpu", "--cpu_kernels", "torch"], host_plugin_manager())
    model = candidate_factory(settings, installed_providers(), 24, 32, torch.device("cpu"))()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # away from the start, where residual layers and latents are zero
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.3)
    phase = make_preset("fast", 0.004, 40).phases[0]
    found = []
    for on in (False, True):
        model.use_native_kernels(on)
        model.zero_grad(set_to_none=True)
        torch.manual_seed(7)  # the same quantization noise
        out = model(QuantizerSetting(phase.quantizer_type, phase.noise_type, 0.3, 0.5))
        loss = rd_loss(out.image, target, out.rate_bits, 0.004)
        loss.backward()
        found.append((loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()
                                      if p.grad is not None}))
    (loss_torch, grads_torch), (loss_native, grads_native) = found
    torch.testing.assert_close(loss_native, loss_torch, rtol=1e-5, atol=0)
    assert grads_native.keys() == grads_torch.keys()
    assert any(name.startswith("upsampling.tconvs") for name in grads_native)
    for name, expected in grads_torch.items():
        torch.testing.assert_close(grads_native[name], expected, rtol=1e-3,
                                   atol=1e-4 * expected.abs().max().item(), msg=name)


@pytest.fixture
def no_compiler(tmp_path, monkeypatch):
    monkeypatch.setenv("CC", "no-such-compiler")
    monkeypatch.setenv("MRC_COOLCHIC_CACHE", str(tmp_path / "cache"))
    for cached in (native.library, native.identity, encoder._say_once):
        cached.cache_clear()
    yield
    for cached in (native.library, native.identity, encoder._say_once):
        cached.cache_clear()


def test_without_a_compiler_native_is_refused_and_auto_says_so(tmp_path, capsys, no_compiler):
    code, record = _encode(tmp_path, "native", "native")
    assert "no C compiler found" in one_line_error(capsys, code)
    assert record is None and not (tmp_path / "native.cool").exists()
    code, record = _encode(tmp_path, "auto", "auto")
    assert code == 0 and record["cpu_kernels"] == "torch"
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no C compiler found" in err and "torch's operators" in err
    assert native.identity() == "none"


def test_the_kernels_are_built_once_per_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MRC_COOLCHIC_CACHE", str(tmp_path))
    native.library.cache_clear()
    try:
        native.library()
        built = list(tmp_path.glob("kernels-*.so"))
        assert len(built) == 1
        native.library.cache_clear()

        def no_build(target):
            raise AssertionError("built again")

        monkeypatch.setattr(native, "_build", no_build)
        assert native.library().pointwise_forward is not None
    finally:
        native.library.cache_clear()


@pytest.mark.parametrize("planes, height, width, k", [(6, 9, 7, 8), (2, 1, 5, 4), (3, 4, 4, 12)])
def test_the_upsampling_and_its_gradients_match_torch(planes, height, width, k):
    stage = UpsamplingTConv(k)
    generator = torch.Generator().manual_seed(k)
    with torch.no_grad():
        stage.weight.add_(torch.randn(k // 2, generator=generator) * 0.1)
    x = torch.randn(planes, 1, height, width, generator=generator)
    gout = torch.randn(planes, 1, 2 * height, 2 * width, generator=generator)
    results = []
    for native_on in (False, True):
        stage.native = native_on
        stage.weight.grad = None
        leaf = x.clone().requires_grad_()
        assert stage.uses_native(leaf) == native_on
        out = stage(leaf)
        out.backward(gout)
        results.append((out.detach(), leaf.grad, stage.weight.grad.clone()))
    for found, expected in zip(results[1], results[0]):
        torch.testing.assert_close(found, expected, rtol=1e-5, atol=1e-5 * expected.abs().max().item())
    with torch.no_grad():  # outside training: torch's operators, whatever the flag
        assert not stage.uses_native(x)


@pytest.mark.parametrize("n, hidden, stabiliser, batch", [
    (20, 2, True, 1000),   # hop's ARM (14 contexts and 6 IFCE features); a short last tile
    (8, 1, False, 128),    # one whole tile
    (6, 0, True, 5),       # no hidden layer: output layer and stabiliser only
])
def test_the_arm_and_its_gradients_match_torch(n, hidden, stabiliser, batch):
    arm = Arm(n, hidden, stabiliser)
    generator = torch.Generator().manual_seed(n + hidden)
    with torch.no_grad():
        for parameter in arm.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.3)
    context = torch.randn(batch, n, generator=generator)
    gout = torch.randn(batch, 2, generator=generator)
    results = []
    for native_on in (False, True):
        arm.native = native_on
        arm.zero_grad(set_to_none=True)
        leaf = context.clone().requires_grad_()
        assert arm.uses_native(leaf) == native_on
        out = arm(leaf)
        out.backward(gout)
        results.append([out.detach(), leaf.grad, *(p.grad for p in arm.parameters())])
    for found, expected in zip(results[1], results[0]):
        torch.testing.assert_close(found, expected, rtol=1e-4,
                                   atol=1e-5 * max(expected.abs().max().item(), 1.0))


def test_the_accuracy_benchmark_measures_both_against_float64(tmp_path):
    """benchmarks/native_accuracy.py: the same noise in every precision, both float32
    gradients close to float64's and not equal to them, the JSON written (30 iterations in:
    the latents are no longer all rounded to zero in the last phase)."""
    accuracy = benchmark_script("native_accuracy")
    torch.manual_seed(3)
    single = torch.randn_like(torch.zeros(6))
    with accuracy.float32_noise():
        torch.manual_seed(3)
        double = torch.randn_like(torch.zeros(6, dtype=torch.float64))
    assert double.dtype == torch.float64 and torch.equal(double, single.double())
    save_png(demo_image(24, 32, seed=5), tmp_path / "small.png")
    out = tmp_path / "accuracy.json"
    assert accuracy.main([str(tmp_path / "small.png"), "--warmup", "30", "--json", str(out),
                          "--n_itr", "40", "--threads", "1"]) == 0
    report = json.loads(out.read_text())
    for phase in ("main phase", "last phase"):
        assert {"arm", "upsampling", "synthesis"} <= report[phase].keys()
        for part, found in report[phase].items():
            assert found["torch"] < 1e-3 and found["kernels"] < 1e-3, (phase, part)
        assert any(found["kernels"] > 0 for found in report[phase].values())
