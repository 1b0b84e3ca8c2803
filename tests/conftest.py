# SPDX-License-Identifier: BSD-3-Clause
"""Shared test helpers: a throwaway context provider and small images."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import os
from pathlib import Path

import pytest
import torch

from coolchic.context import spatial_offsets
from coolchic.hooks import ProviderSetup, hookimpl
from coolchic.imageio import demo_image, save_png


#: Data and anchors beside the checkout (not part of the repository).
SHARED = Path(os.environ.get("MRC_SHARED", Path(__file__).resolve().parents[2] / "shared"))
needs_shared = pytest.mark.skipif(
    not (SHARED / "anchors").is_dir(), reason=f"no shared data at {SHARED} (set MRC_SHARED)"
)


class ColocatedProvider:
    """Test provider: N-1 spatial neighbours plus the co-located value of the next coarser grid."""

    name = "colocated"

    def __init__(self, setup: ProviderSetup, weight: int = 1) -> None:
        self.setup = setup
        self.weight = weight

    @classmethod
    def from_options(cls, setup: ProviderSetup, options: Mapping[str, Any]) -> ColocatedProvider:
        return cls(setup, int(options.get("colocated_weight", 1)))

    @classmethod
    def from_header(cls, setup: ProviderSetup, fields: Mapping[str, int]) -> ColocatedProvider:
        return cls(setup, fields["weight"])

    def _is_coarsest(self, grid: int) -> bool:
        return grid == self.setup.n_grids - 1

    def causal_offsets(self, grid: int):
        n = self.setup.n_contexts
        return spatial_offsets(n if self._is_coarsest(grid) else n - 1)

    def coarse_positions(self, grid: int):
        return [] if self._is_coarsest(grid) else [(1, 0, 0)]

    def header_fields(self) -> dict[str, int]:
        return {"weight": self.weight}


class ColocatedPlugin:
    """A plugin object registering :class:`ColocatedProvider` and one option."""

    @hookimpl
    def coolchic_register_context_providers(self, register):
        register("colocated", ColocatedProvider)

    @hookimpl
    def coolchic_add_options(self, parser):
        parser.add_argument("--colocated_weight", type=int, default=1)


@pytest.fixture
def colocated_plugin() -> ColocatedPlugin:
    return ColocatedPlugin()


@pytest.fixture(scope="session")
def tiny_png(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("images") / "tiny.png"
    save_png(demo_image(32, 32, seed=1), path)
    return str(path)


@pytest.fixture
def one_image_folder(tmp_path) -> Path:
    """A folder holding one small PNG, ``one.png`` (16x24): the smallest A/B sweep."""
    folder = tmp_path / "images"
    folder.mkdir()
    save_png(demo_image(16, 24, seed=1), folder / "one.png")
    return folder


@pytest.fixture(autouse=True)
def _single_thread():
    # Small tensors: one thread is faster and keeps results reproducible.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
