# SPDX-License-Identifier: BSD-3-Clause
"""The installed distribution carries every module and data file of the source tree."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = {"coolchic": REPO / "vendor" / "coolchic", "mrc_plugin": REPO / "mrc_plugin"}


def test_installed_packages_cover_the_source_tree(tmp_path):
    # Import from a neutral directory: the checkout must not shadow the installation.
    probe = "import json, coolchic, mrc_plugin; print(json.dumps([coolchic.__file__, mrc_plugin.__file__]))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True,
                          text=True, check=True)
    locations = [Path(p).parent for p in json.loads(done.stdout)]
    if any(location == source for location, source in zip(locations, SOURCES.values())):
        pytest.skip("editable install: the source tree is the package")
    missing = []
    for (name, source), installed in zip(SOURCES.items(), locations):
        for path in source.rglob("*"):
            if path.suffix in (".py", ".cfg", ".json", ".patch", ".c", ".h") and "__pycache__" not in path.parts:
                if not (installed / path.relative_to(source)).is_file():
                    missing.append(f"{name}/{path.relative_to(source)}")
    assert not missing, f"not installed (check pyproject.toml): {missing}"


def test_console_script_and_plugin_entry_point():
    points = metadata.entry_points()
    scripts = {ep.name: ep.value for ep in points.select(group="console_scripts")}
    assert scripts.get("mrc-coolchic") == "coolchic.cli:main"
    # Only this distribution's entry points: other providers (the example template) may be installed.
    ours = metadata.distribution("mrc-coolchic").entry_points
    plugins = {ep.name: ep.value for ep in ours.select(group="coolchic")}
    assert plugins == {"mrc": "mrc_plugin.plugin"}
    assert "mrc" in {ep.name for ep in points.select(group="coolchic")}
