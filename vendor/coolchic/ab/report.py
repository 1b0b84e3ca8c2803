# SPDX-License-Identifier: BSD-3-Clause
"""A/B outputs: per-image table, CompressAI-style curves, BD-rate summary, RD plot.

Aggregation follows the MRC paper: for each lambda, the mean of the per-image
PSNRs and the mean of the per-image rates; the BD-rate of those mean curves
is the headline, beside the mean (and spread) of per-image BD-rates and the
BD-rate of the latent rate alone (MRC acts on the latents only).
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Sequence
from pathlib import Path

from coolchic.ab.bdrate import CurveError, bd_rate
from coolchic.files import write_atomically, write_json

AGGREGATION = "mean of per-image PSNR and mean of per-image bpp, per lambda (as the MRC paper)"
INTERPOLATION = (
    "pchip on log-rate as a function of PSNR, integrated exactly over the common PSNR range; "
    "cubic = Bjontegaard's least-squares cubic fit (4 lambdas or more)"
)
TABLE_COLUMNS = (
    "host", "variant", "image", "lmbda", "bpp", "psnr_rgb", "latent_bpp", "nn_bpp", "bpp_estimate",
    "encoding_time", "encode_wall_time", "encode_peak_rss_mib", "decoding_time",
    "decode_peak_rss_mib", "mac_per_pixel", "cpu_kernels", "upstream_version", "patch_sha256",
)


def mean_curve(records: Sequence[dict], key: str = "bpp") -> dict[str, list[float]]:
    """Per-lambda means over images, sorted by increasing rate (decreasing lambda)."""
    lambdas = sorted({r["lmbda"] for r in records}, reverse=True)
    curve: dict[str, list[float]] = {"lmbda": [], "bpp": [], "psnr-rgb": [],
                                     "encoding_time": [], "decoding_time": []}
    for lmbda in lambdas:
        rows = [r for r in records if r["lmbda"] == lmbda]
        curve["lmbda"].append(lmbda)
        curve["bpp"].append(statistics.fmean(r[key] for r in rows))
        curve["psnr-rgb"].append(statistics.fmean(r["psnr_rgb"] for r in rows))
        curve["encoding_time"].append(statistics.fmean(r["encoding_time"] for r in rows))
        curve["decoding_time"].append(statistics.fmean(r["decoding_time"] for r in rows))
    return curve


def compressai_json(label: str, description: str, records: Sequence[dict]) -> dict:
    curve = mean_curve(records)
    latent = mean_curve(records, "latent_bpp")
    return {
        "name": label,
        "description": description,
        "results": {
            "psnr-rgb": curve["psnr-rgb"],
            "bpp": curve["bpp"],
            "latent_bpp": latent["bpp"],
            "encoding_time": curve["encoding_time"],
            "decoding_time": curve["decoding_time"],
        },
        "lmbda": curve["lmbda"],
        "n_images": len({r["image"] for r in records}),
        "aggregation": AGGREGATION,
    }


def curves_bd_rate(reference: dict, candidate: dict, interpolation: str = "pchip") -> float | None:
    try:
        return bd_rate(reference["bpp"], reference["psnr-rgb"], candidate["bpp"],
                       candidate["psnr-rgb"], interpolation)
    except CurveError:
        return None


def rate_estimate_gap(records: Sequence[dict]) -> dict | None:
    """How far the written files are from the encoder's rate estimate, in percent of it.

    The gap is header bytes, range-coder overhead and rounding to whole bytes; it
    is positive when the file is larger than the estimate.
    """
    gaps = [100.0 * (r["bpp"] / r["bpp_estimate"] - 1.0) for r in records
            if r.get("bpp_estimate")]
    if not gaps:
        return None
    return {"mean_percent": statistics.fmean(gaps), "min_percent": min(gaps),
            "max_percent": max(gaps), "n_files": len(gaps)}


def encode_time_ratio(ref_rows: Sequence[dict], cand_rows: Sequence[dict]) -> dict | None:
    """Candidate's encode wall time over the reference's, on the (image, lambda) pairs of both.

    Wall time of the whole encode process (training, quantization, writing and
    the host's own check), the one measure both hosts share.
    """
    ref = {(r["image"], r["lmbda"]): r["encode_wall_time"] for r in ref_rows}
    pairs = [(r["encode_wall_time"], ref[(r["image"], r["lmbda"])]) for r in cand_rows
             if (r["image"], r["lmbda"]) in ref]
    if not pairs:
        return None
    ratios = [cand / ref for cand, ref in pairs]
    return {"total": sum(c for c, _ in pairs) / sum(r for _, r in pairs),
            "mean": statistics.fmean(ratios), "min": min(ratios), "max": max(ratios),
            "n_pairs": len(pairs)}


def peak_memory(rows: Sequence[dict]) -> dict | None:
    """Largest and mean peak resident memory (MiB) of a variant's encodes, where recorded."""
    peaks = [r["encode_peak_rss_mib"] for r in rows if r.get("encode_peak_rss_mib")]
    if not peaks:
        return None  # jobs recorded before peaks were measured
    return {"max": max(peaks), "mean": statistics.fmean(peaks), "n_jobs": len(peaks)}


def machines(records: Sequence[dict]) -> list[dict]:
    """The distinct machines the jobs ran on (jobs recorded before machines were kept: none)."""
    found: list[dict] = []
    for record in records:
        if record.get("machine") and record["machine"] not in found:
            found.append(record["machine"])
    return found


def finished_span(records: Sequence[dict]) -> dict | None:
    times = sorted(r["finished_utc"] for r in records if r.get("finished_utc"))
    return {"first": times[0], "last": times[-1]} if times else None


def summary(
    reference: str, candidate: str, records: Sequence[dict], settings: dict
) -> dict:
    ref_rows = [r for r in records if r["variant"] == reference]
    cand_rows = [r for r in records if r["variant"] == candidate]
    ref_curve, cand_curve = mean_curve(ref_rows), mean_curve(cand_rows)
    per_image = {}
    for image in sorted({r["image"] for r in records}):
        per_image[image] = curves_bd_rate(
            mean_curve([r for r in ref_rows if r["image"] == image]),
            mean_curve([r for r in cand_rows if r["image"] == image]),
        )
    values = [v for v in per_image.values() if v is not None]
    spread = None
    if values:
        spread = {"min": min(values), "max": max(values),
                  "stdev": statistics.stdev(values) if len(values) > 1 else 0.0}
    return {
        "reference": reference,
        "candidate": candidate,
        "hosts": {reference: ref_rows[0]["host"], candidate: cand_rows[0]["host"]},
        "bd_rate_percent": curves_bd_rate(ref_curve, cand_curve),
        "bd_rate_cubic_percent": curves_bd_rate(ref_curve, cand_curve, "cubic"),
        "bd_rate_latent_percent": curves_bd_rate(mean_curve(ref_rows, "latent_bpp"),
                                      mean_curve(cand_rows, "latent_bpp")),
        "mean_per_image_bd_rate_percent": statistics.fmean(values) if values else None,
        "per_image_bd_rate_percent": per_image,
        "per_image_spread": spread,
        "aggregation": AGGREGATION,
        "interpolation": INTERPOLATION,
        "rate": "8 x bytes of the written bitstream / pixels; PSNR of the decoded PNG",
        "curves": {reference: ref_curve, candidate: cand_curve},
        "rate_vs_estimate": {reference: rate_estimate_gap(ref_rows),
                             candidate: rate_estimate_gap(cand_rows)},
        "encode_time_ratio": encode_time_ratio(ref_rows, cand_rows),
        "encode_peak_rss_mib": {reference: peak_memory(ref_rows),
                                candidate: peak_memory(cand_rows)},
        "n_images": len(per_image),
        "machines": machines(ref_rows + cand_rows),
        "jobs_finished_utc": finished_span(ref_rows + cand_rows),
        "settings": settings,
    }


def write_table(out: Path, records: Sequence[dict]) -> None:
    rows = sorted(records, key=lambda r: (r["variant"], r["image"], -r["lmbda"]))
    buffer = io.StringIO()
    table = [{k: r.get(k, "") for k in TABLE_COLUMNS} for r in rows]  # our host: no upstream
    writer = csv.DictWriter(buffer, fieldnames=TABLE_COLUMNS)
    writer.writeheader()
    writer.writerows(table)
    write_atomically(out / "per_image.csv", buffer.getvalue().encode())
    write_json(out / "per_image.json", {"rows": table})


def plot_rd(path: Path, result: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4.5), dpi=120)
    for name, curve in result["curves"].items():
        axis.plot(curve["bpp"], curve["psnr-rgb"], marker="o", label=name)
    bd = result["bd_rate_percent"]
    title = f"{result['candidate']} vs {result['reference']}, {result['n_images']} images"
    if bd is not None:
        title += f": BD-rate {bd:+.2f}%"
    axis.set_title(title, fontsize=10)
    axis.set_xlabel("rate (bpp, from bitstreams)")
    axis.set_ylabel("PSNR RGB (dB)")
    axis.grid(alpha=0.3)
    axis.legend()
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    write_atomically(path, buffer.getvalue())
