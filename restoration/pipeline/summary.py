"""The run's end: noise.csv, quality.csv and report.html from the items' results."""

from __future__ import annotations

import numpy as np

from ..options import CheckedRun, RunOptions
from ..store.files import exists, join, remove, write_csv
from ..store.layout import WORK
from .records import Entry, ItemResult
from .stages import QUALITY_COLUMNS, changed_options


def finish(run: CheckedRun, results: list[ItemResult], run_info: dict) -> dict:
    """Write noise.csv, quality.csv and report.html; drop the working store when all succeeded.

    Returns
    -------
    dict
        JSON-able summary: the files' paths, ``ok`` (the items complete before this run
        included), ``failed``, ``skipped`` (names complete before this run), and both tables as
        records.
    """
    import pandas as pd

    from ..api import noise_frame
    from ..report import write_report
    from ..report.views import report_item

    outdir = str(run.options.outdir)
    # Items that failed at discovery arrive first; the tables list every item by name.
    results = sorted(results, key=lambda res: res.name)
    frame = noise_frame([r for res in results for r in res.noise_rows])
    write_csv(join(outdir, "noise.csv"), frame)
    quality = pd.DataFrame([res.quality for res in results], columns=QUALITY_COLUMNS)
    write_csv(join(outdir, "quality.csv"), quality)
    items = [report_item(outdir, res) for res in results]
    report = write_report(join(outdir, "report.html"), items, run_info)
    failed = [res for res in results if res.quality["status"] != "ok"]
    if not failed and exists(join(outdir, WORK)):
        remove(join(outdir, WORK))
    return {"noise_csv": join(outdir, "noise.csv"), "quality_csv": join(outdir, "quality.csv"),
            "report": str(report), "ok": len(results) - len(failed), "failed": len(failed),
            "skipped": [res.name for res in results if res.skipped],
            "noise_table": frame.to_dict(orient="records"), "quality_table": quality.to_dict(orient="records")}


def failed_input(name: str, error: str, run: CheckedRun) -> ItemResult:
    """The result of an input that could not even be read as an item (discovery's ``failed``)."""
    from ..io import Item

    item = Item(name=name, source=name, array_path=None, format="", shape=(), dtype=np.dtype("float32"), axes="")
    return ItemResult(Entry(item, error=error), failed_quality(name, error, run))


def failed_quality(name: str, error: str, run: CheckedRun | RunOptions) -> dict:
    """The quality.csv row of an item that failed with ``error``."""
    options = run.options if isinstance(run, CheckedRun) else run
    return {"name": name, "status": "failed", "noise": "", "denoiser": options.denoiser,
            "options": changed_options(options), "psnr": np.nan, "ssim": np.nan, "residual_sigma": np.nan,
            "seconds": np.nan, "error": error, "warning": ""}
