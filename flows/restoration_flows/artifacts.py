"""What a run shows in the Prefect UI besides its task runs: log lines and artifacts.

Numbers are rounded to 4 significant digits and carry their units; links to the outputs are
absolute ``file://`` URLs, so the UI opens them wherever the run was started.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from restoration.store.files import is_url, join
from restoration.store.layout import STORE


def g4(value) -> str:
    """A number to 4 significant digits (no 16-digit floats in logs and tables)."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def noise_line(rows: list[dict]) -> str:
    """The noise found, per channel, in the input's units, e.g. ``poisson-gaussian gain=2.01 sigma=3.1``."""
    from restoration.plugins import registry

    reg = registry()
    parts = []
    for r in rows:
        params = " ".join(f"{p}={g4(r[p])}" for p in reg.get("noise", r["noise"]).params if p in r)
        parts.append((f"channel {r['channel']}: " if len(rows) > 1 else "") + f"noise {r['noise']} {params}".strip())
    return "; ".join(parts) + " (in the input's units)"


def quality_line(row: dict) -> str:
    """What the quality stage found: PSNR/SSIM against the reference when there is one."""
    figures = [f"psnr {row['psnr']:.2f} dB, ssim {row['ssim']:.3f}"] if finite(row.get("psnr")) else []
    figures.append(f"noise left in the output {g4(row['residual_sigma'])}")
    return ", ".join(figures) + f" ({g4(row['seconds'])} s)"


def finite(value) -> bool:
    """Whether ``value`` is a finite number (NaN marks a metric that does not apply)."""
    return isinstance(value, (int, float)) and math.isfinite(value)


#: Units of the tables' columns, shown in the artifacts' headers.
UNITS = {"psnr": "psnr (dB)", "ssim": "ssim (0-1)", "residual_sigma": "noise left (input units)", "seconds": "seconds",
         "sigma": "sigma (input units)", "gain": "gain (input units per photon)", "offset": "offset (input units)",
         "amount": "amount (fraction)", "score": "score (log-lik./pixel)", "clipped_fraction": "clipped (fraction)",
         "missing_fraction": "missing (fraction)"}


def table_rows(records: list[dict]) -> list[dict]:
    """Rows for a table artifact: numbers to 4 significant digits, units in the headers, NaN
    empty (it is not JSON)."""
    def cell(v):
        if isinstance(v, float):
            return None if math.isnan(v) else float(f"{v:.4g}")
        return v
    return [{UNITS.get(k, k): cell(v) for k, v in r.items()} for r in records]


def publish(summaries: list[dict], where: str) -> list[dict]:
    """The three artifacts of a run; returns the failed rows."""
    noise_rows = [r for s in summaries for r in s["noise_table"]]
    quality_rows = [r for s in summaries for r in s["quality_table"]]
    create_table_artifact(key="noise-profile", table=table_rows(noise_rows), description=f"Noise per item and channel ({where})")
    create_table_artifact(key="quality-report", table=table_rows(quality_rows), description=f"Restoration quality per item ({where})")
    failed = [r for r in quality_rows if r["status"] != "ok"]
    lines = [f"# Restoration of {len(quality_rows)} item(s) into {where}", "",
             f"- ok: {len(quality_rows) - len(failed)}, failed: {len(failed)}", "",
             "| item | status | noise | psnr (dB) | ssim | noise left | seconds |", "|---|---|---|---|---|---|---|"]
    for r in quality_rows:
        figures = " | ".join(g4(r[k]) if finite(r[k]) else "" for k in ("psnr", "ssim", "residual_sigma", "seconds"))
        lines.append(f"| `{r['name']}` | {r['status']} | {r['noise']} | {figures} |")
    lines.append("")
    for s in summaries:  # absolute file links: the UI opens them wherever the run was started
        if is_url(s["report"]):  # on object storage: the URLs, for the storage's own tools
            lines.append(f"- report: `{s['report']}`; data: `{join(os.path.dirname(s['report']), STORE)}`")
            continue
        report = Path(s["report"]).resolve()
        store = report.parent / STORE
        lines.append(f"- report: [{report}]({report.as_uri()}); data: [{store}]({store.as_uri()})")
    lines += [f"- **failed** `{r['name']}`: {r['error']}" for r in failed]
    if not summaries:
        lines.append("- nothing new to restore")
    create_markdown_artifact(key="restoration-report", markdown="\n".join(lines), description="Restoration summary")
    return failed
