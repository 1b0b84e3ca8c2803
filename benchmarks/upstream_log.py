# SPDX-License-Identifier: BSD-3-Clause
"""Time per training iteration of upstream Cool-chic 5.0.1, read from its encoder's log.

    python benchmarks/upstream_log.py LOG

Upstream prints a row every ``freq_valid`` iterations with ``time_sec`` and
``itr`` columns (time since the encode started, iterations so far). This reads
the rows of the first training phase after the warm-up (on CUDA, after
``torch.compile``; the first row there includes the compilation, so the span
starts at it) and prints the mean time per iteration between its first and
last rows, with the span used.
"""

from __future__ import annotations

import sys


def main_phase_rows(lines: list[str]) -> list[tuple[int, float]]:
    rows, header, in_phase = [], None, False
    for line in lines:
        words = line.split()
        if "Training phase:" in line:
            if rows:
                break  # only the first phase after the warm-up
            in_phase = True
            continue
        if words[:1] == ["loss"]:
            header = words
            continue
        if in_phase and header and len(words) >= len(header) - 1:
            try:
                values = dict(zip(header, words))
                rows.append((int(values["itr"]), float(values["time_sec"])))
            except (KeyError, ValueError):
                continue
    return rows


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    try:
        lines = open(argv[0]).read().splitlines()
    except OSError as error:
        print(f"upstream_log.py: {argv[0]}: {error.strerror}", file=sys.stderr)
        return 2
    rows = main_phase_rows(lines)
    if len(rows) < 2:
        print(f"upstream_log.py: {argv[0]}: fewer than two rows in the main phase", file=sys.stderr)
        return 2
    (first_itr, first_t), (last_itr, last_t) = rows[0], rows[-1]
    per = (last_t - first_t) / (last_itr - first_itr) * 1000
    print(f"{per:.2f} ms/iteration over iterations {first_itr} -> {last_itr} "
          f"({first_t:.1f} -> {last_t:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
