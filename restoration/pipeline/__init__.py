"""The file-based restoration pipeline, one function per stage (the Prefect tasks call them).

:func:`preflight` checks a run in seconds; :func:`prepare` settles resume and discovers the
entries; then per entry :func:`ingest` -> :func:`normalize` -> :func:`characterize` ->
:func:`denoise` (or :func:`plan_denoise`, :func:`denoise_planes` on any worker,
:func:`finish_denoise`) -> :func:`assess`; :func:`finish` writes the tables and the report.
Stages pass the typed records of :mod:`.records`, never arrays; nothing here needs Prefect.
"""

from .checks import check_options, check_outdir, check_runtime, discover_entries, preflight, validate
from .records import DenoisePlan, Entry, Ingested, ItemResult, NoiseProfile, Normalized, Restored
from .resume import prepare, stale_outputs
from .stages import (assess, characterize, denoise, denoise_planes, finish_denoise, ingest, normalize, plan_denoise,
                     provenance, region_pixels)
from .summary import failed_quality, finish

__all__ = ["DenoisePlan", "Entry", "Ingested", "ItemResult", "NoiseProfile", "Normalized", "Restored", "assess",
           "characterize", "check_options", "check_outdir", "check_runtime", "denoise", "denoise_planes",
           "discover_entries", "failed_quality", "finish", "finish_denoise", "ingest", "normalize", "plan_denoise",
           "preflight", "prepare", "provenance", "region_pixels", "stale_outputs", "validate"]
