# SPDX-License-Identifier: BSD-3-Clause
"""Assertions shared by the test modules."""

from __future__ import annotations


def one_line_error(capsys, code, expected_code: int = 2) -> str:
    """The captured stderr of a failed command, checked to be one line with no traceback."""
    err = capsys.readouterr().err.strip()
    assert code == expected_code, err
    assert err and "\n" not in err and "Traceback" not in err, err
    return err
