"""The file-based restoration pipeline, one function per stage (the Prefect tasks call them).

:func:`preflight` checks a run in seconds; :func:`prepare` settles resume and discovers the
entries; then per entry :func:`ingest` -> :func:`normalize` -> :func:`characterize` ->
:func:`denoise` (or :func:`plan_denoise`, :func:`denoise_planes` on any worker,
:func:`finish_denoise`) -> :func:`assess`; :func:`finish` writes the tables and the report.
The denoise work units are regions (yx planes or bands of them, and with ``planes`` ``yx,zx,zy``
slabs of zx and zy planes, restored into per-orientation arrays that :func:`finish_denoise`
averages): each writes chunks of its own and is marked done once written, so they run in any
order on any worker and a killed run resumes; an item is marked complete only after all its data.
Stages pass the typed records of :mod:`.records`, never arrays; nothing here needs Prefect
(:func:`restore_locally` runs them all in this process).
"""

from .checks import (check_cost, check_options, check_outdir, check_runtime, discover_entries, predicted_seconds,
                     preflight, validate)
from .records import DenoisePlan, Entry, Ingested, ItemResult, NoiseProfile, Normalized, Restored
from .resume import prepare, stale_outputs
from .stages import (assess, characterize, denoise, denoise_planes, finish_denoise, ingest, normalize, plan_denoise,
                     provenance, region_pixels)
from .local import restore_locally
from .summary import failed_input, failed_quality, finish

__all__ = ["DenoisePlan", "Entry", "Ingested", "ItemResult", "NoiseProfile", "Normalized", "Restored", "assess",
           "characterize", "check_cost", "check_options", "check_outdir", "check_runtime", "denoise", "denoise_planes",
           "discover_entries", "failed_input", "failed_quality", "finish", "finish_denoise", "ingest", "normalize", "plan_denoise",
           "predicted_seconds", "preflight", "prepare", "provenance", "region_pixels", "restore_locally", "stale_outputs", "validate"]
