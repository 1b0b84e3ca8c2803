# SPDX-License-Identifier: BSD-3-Clause
"""cuDNN's autotuner during an encode: on for CUDA devices only, restored after, shared by threads."""

import json
import threading

import pytest
import torch

from coolchic.autotune import tuned_convolutions
from coolchic.cli import main
from coolchic.imageio import demo_image, save_png
from coolchic.settings import parse_settings
from coolchic.plugins import host_plugin_manager

CUDA = torch.device("cuda")  # a device object needs no GPU; the block never touches one


@pytest.fixture(params=[False, True], ids=["process had it off", "process had it on"])
def before(request):
    saved = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = request.param
    yield request.param
    torch.backends.cudnn.benchmark = saved


def test_on_inside_a_cuda_encode_and_restored_after(before):
    with tuned_convolutions(True, CUDA) as tuned:
        assert tuned is True
        assert torch.backends.cudnn.benchmark is True
    assert torch.backends.cudnn.benchmark is before


@pytest.mark.parametrize("enabled, device", [(False, CUDA), (True, torch.device("cpu"))],
                         ids=["off", "cpu"])
def test_off_or_on_the_cpu_it_does_nothing(before, enabled, device):
    with tuned_convolutions(enabled, device) as tuned:
        assert tuned is False
        assert torch.backends.cudnn.benchmark is before
    assert torch.backends.cudnn.benchmark is before


def test_the_last_of_several_threads_restores(before):
    """Encodes in threads leave in any order; the setting stays on until the last has left."""
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with tuned_convolutions(True, CUDA):
            first_in.set()
            second_in.wait()
        first_out.set()

    def second():
        first_in.wait()
        with tuned_convolutions(True, CUDA):
            second_in.set()
            first_out.wait()
            seen["after the first left"] = torch.backends.cudnn.benchmark

    threads = [threading.Thread(target=f) for f in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert seen == {"after the first left": True}
    assert torch.backends.cudnn.benchmark is before


def test_the_option_and_what_the_results_say(tmp_path):
    assert parse_settings([], host_plugin_manager()).cudnn_benchmark is True
    assert parse_settings(["--cudnn_benchmark", "off"], host_plugin_manager()).cudnn_benchmark is False
    image, results = tmp_path / "x.png", tmp_path / "r.json"
    save_png(demo_image(16, 16, seed=2), image)
    assert main(["encode", "-i", str(image), "-o", str(tmp_path / "x.cool"), "--dec_cfg", "lop",
                 "--preset", "fast", "--n_itr", "40", "--device", "cpu", "--quiet",
                 "--results", str(results)]) == 0
    assert json.loads(results.read_text())["cudnn_benchmark"] is False  # the CPU has no cuDNN
