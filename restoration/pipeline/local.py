"""Every stage in this process, without Prefect: what ``restoration run`` does, minus the flow."""

from __future__ import annotations

from ..errors import InputError
from ..options import RunOptions
from .checks import validate
from .records import ItemResult
from .resume import prepare
from .stages import assess, characterize, denoise, ingest, normalize
from .summary import failed_input, failed_quality, finish


def restore_locally(options: RunOptions) -> dict:
    """Restore ``options.inputs`` into ``options.outdir`` here, stage after stage (benchmarks,
    scripts, debugging); an item with bad input fails alone, as in the flow.

    Returns
    -------
    dict
        :func:`~.summary.finish`'s summary.
    """
    run = validate(options)
    entries, failed = prepare(run)
    results = [failed_input(f["name"], f["error"], run) for f in failed]
    for entry in entries:
        rows: list[dict] = []
        try:
            ing = ingest(run, entry)
            norm = normalize(run, ing)
            noise = characterize(run, ing)
            rows = noise.rows
            denoise(run, ing, norm, noise)
            results.append(ItemResult(entry, assess(run, ing), rows, skipped=ing.skip))
        except InputError as exc:
            results.append(ItemResult(entry, failed_quality(entry.name, str(exc), run), rows))
    return finish(run, results, {"options": options.to_json(), "denoiser_options": run.denoiser_options,
                                 "identity": run.identity, "calibration": run.calibration})
