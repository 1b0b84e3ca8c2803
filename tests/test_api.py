# SPDX-License-Identifier: BSD-3-Clause
"""The Python API (coolchic.api): the same path as the command line, without a subprocess."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from coolchic import api
from coolchic.bitstream.codec import write_bitstream
from coolchic.cli import main
from coolchic.encoder import train_model
from coolchic.errors import ConfigError, ImageError
from coolchic.imageio import demo_image, image_to_uint8, psnr_8bit, save_png
from coolchic.plugins import installed_providers

FAST = {"dec_cfg": "lop", "preset": "fast", "n_itr": 40, "device": "cpu", "threads": 1}


def test_settings_parse_like_the_command_line(tmp_path):
    cfg = tmp_path / "my.cfg"
    cfg.write_text("arm_residue = 8,1\nlmbda = 0.02\ncontext_provider = mrc\nmrc_depth = 3\n")
    settings = api.encoder_settings("--dec_cfg", str(cfg), n_itr=2000)
    assert settings.decoder.arm == "8,1" and settings.training.lmbda == 0.02
    assert settings.training.n_itr == 2000 and settings.context_provider == "mrc"
    assert settings.options["mrc_depth"] == 3  # a plugin's key, as its provider reads it
    assert api.encoder_settings("--dec_cfg", str(cfg), lmbda=0.004).training.lmbda == 0.004
    with pytest.raises(ConfigError, match="unknown config key or option: not_a_key"):
        api.encoder_settings(not_a_key=1)


def test_on_off_keys_take_bools_or_words():
    for value, want in ((False, False), (True, True), ("off", False), ("on", True)):
        settings = api.encoder_settings(keep_memory=value, cuda_graph=value, cudnn_benchmark=value)
        assert (settings.keep_memory, settings.cuda_graph, settings.cudnn_benchmark) == (want,) * 3


def test_encode_a_path_an_array_and_a_tensor_alike(tmp_path):
    image = demo_image(16, 24, seed=5)
    path = tmp_path / "x.png"
    save_png(image, path)
    settings = api.encoder_settings(**FAST)
    from_path = api.encode(path, settings)
    from_array = api.encode(image_to_uint8(image), settings)
    from_tensor = api.encode(image[0], settings)
    assert from_path.bitstream == from_array.bitstream == from_tensor.bitstream
    assert from_path.results["image"] == str(path)
    assert from_path.results["rate_source"] == "bitstream"
    assert from_path.results["bitstream_bytes"] == len(from_path.bitstream)
    assert from_path.results["psnr_db"] == psnr_8bit(from_path.image, image)


def test_decode_gives_the_encoders_image():
    image = demo_image(16, 24, seed=6)
    encoded = api.encode(image, api.encoder_settings(**FAST, context_provider="mrc"))
    decoded = api.decode(encoded.bitstream)
    assert torch.equal(decoded.image, encoded.image)
    assert decoded.header.provider_name == "mrc"
    assert torch.equal(api.decode(encoded.bitstream, batch=3).image, encoded.image)
    with pytest.raises(ConfigError, match="batch = -1"):
        api.decode(encoded.bitstream, batch=-1)


def test_the_cli_writes_what_the_api_returns(tiny_png, tmp_path):
    settings = api.encoder_settings(**FAST)
    encoded = api.encode(tiny_png, settings)
    output, results = tmp_path / "cli.cool", tmp_path / "r.json"
    argv = ["encode", "-i", tiny_png, "-o", str(output), "--results", str(results), "--quiet"]
    for key, value in FAST.items():
        argv += [f"--{key}", str(value)]
    assert main(argv) == 0
    assert output.read_bytes() == encoded.bitstream
    record = json.loads(results.read_text())
    assert record["psnr_db"] == encoded.results["psnr_db"]


def test_without_writing_the_rate_is_the_estimate():
    encoded = api.encode(demo_image(16, 16), api.encoder_settings(**FAST), write=False)
    assert encoded.bitstream is None and encoded.image is None
    assert encoded.results["rate_source"] == "estimate"


@pytest.mark.parametrize("image, message", [
    (np.zeros((4, 4, 3), dtype=np.float32), "must be uint8"),
    (np.zeros((4, 4, 4), dtype=np.uint8), "must be uint8 \\[H, W, 3\\]"),
    (torch.zeros(1, 1, 4, 4), "must be \\[1, 3, H, W\\]"),
    (torch.full((3, 4, 4), 1.5), "values in \\[0, 1\\]"),
    (torch.zeros(3, 4, 4, dtype=torch.int32), "uint8 or float"),
    ([1, 2, 3], "cannot encode a list"),
])
def test_bad_images_are_refused_by_name(image, message):
    with pytest.raises(ImageError, match=message):
        api.encode(image, api.encoder_settings(**FAST))


def test_grayscale_arrays_and_uint8_tensors_are_images():
    gray = np.arange(16 * 24, dtype=np.uint8).reshape(16, 24)
    encoded = api.encode(gray, api.encoder_settings(**FAST))
    decoded = image_to_uint8(encoded.image)
    assert decoded.shape == (16, 24, 3)
    as_tensor = torch.from_numpy(np.stack([gray] * 3))
    assert api.encode(as_tensor, api.encoder_settings(**FAST)).bitstream == encoded.bitstream


def test_writing_a_bitstream_leaves_the_model_as_it_was():
    encoded = train_model(demo_image(16, 16), api.encoder_settings(**FAST), installed_providers())
    model = encoded.model
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    data = write_bitstream(model, encoded.codes)
    assert api.decode(data).image.shape == (1, 3, 16, 16)
    assert model.training  # still in the mode the caller left it in
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_training_uses_one_cpu_thread_unless_told(monkeypatch):
    """Default 1 (steady beside other work); 0 leaves torch's own count; either way restored."""
    from coolchic import training
    seen = []
    original = training.Trainer.train_phase

    def spy(self, *args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(training.Trainer, "train_phase", spy)
    image = demo_image(16, 16, seed=2)
    fast = {k: v for k, v in FAST.items() if k != "threads"}
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        assert api.encoder_settings(**fast).threads == 1
        api.encode(image, api.encoder_settings(**fast), write=False)
        assert set(seen) == {1} and torch.get_num_threads() == 3
        seen.clear()
        api.encode(image, api.encoder_settings(**fast, threads=0), write=False)
        assert set(seen) == {3}
    finally:
        torch.set_num_threads(before)
