# SPDX-License-Identifier: BSD-3-Clause
"""Sub-commands of ``mrc-coolchic``; each module has ``main(argv) -> int``."""
