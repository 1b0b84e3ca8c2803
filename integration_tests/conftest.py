# SPDX-License-Identifier: BSD-3-Clause
"""Everything under integration_tests/ is marked ``integration``."""

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)
