"""The typed records the stages pass each other (small: names, paths, parameters; never arrays).

Prefect passes them between task runs as they are (pickled to Dask workers); only the flow's
parameters and artifacts are JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..io import Item
from ..restore import PlanePlan


@dataclass(frozen=True)
class Entry:
    """One item of a run's input, with its clean reference and any problem already known.

    Attributes
    ----------
    item : Item
        The input array.
    reference : Item or None
        Its reference (``--reference``), paired by name.
    error : str or None
        Why it cannot be restored (a reference missing or of another shape): it fails alone.
    """

    item: Item
    reference: Item | None = None
    error: str | None = None

    @property
    def name(self) -> str:
        """The item name (``restored.zarr``'s array, the tables' rows)."""
        return self.item.name


@dataclass(frozen=True)
class Ingested:
    """An entry fingerprinted and copied into the run's working store (the ingest stage).

    Attributes
    ----------
    entry : Entry
    fingerprint : str
        The input's content fingerprint (:func:`restoration.io.fingerprint`).
    skip : bool
        Complete in OUTDIR already, from the same input and options: nothing to do.
    work : str or None
        The working zarr store holding the copy (None when skipped).
    stored : dict
        The provenance of the complete item when skipped (its noise rows and transforms).
    """

    entry: Entry
    fingerprint: str
    skip: bool
    work: str | None = None
    stored: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The item name."""
        return self.entry.item.name

    @property
    def item(self) -> Item:
        """The input array."""
        return self.entry.item


@dataclass(frozen=True)
class Normalized:
    """The transform chain fitted on the item (the normalize stage): ``[{"name", "state"}]``."""

    transforms: list[dict]


@dataclass(frozen=True)
class NoiseProfile:
    """Noise model and parameters per channel, in the input's units: noise.csv's rows (the
    characterize-noise stage)."""

    rows: list[dict]


@dataclass(frozen=True)
class DenoisePlan:
    """How an item is restored and which of its regions remain (the denoise stage's plan).

    Work regions are numbered ``regions`` first, then ``slabs``: a batch (a work unit) holds
    region numbers, each region is restored whole by one process and marked done once written,
    and no two regions write one chunk, so batches run in any order on any worker.

    Attributes
    ----------
    plan : PlanePlan
        Noise, transforms and denoiser options, the same for every plane (of every orientation).
    regions : list of (int, int, int)
        ``(plane number, first row, end row)`` of every yx work region: a whole plane, or a
        chunk-aligned band of one.
    batches : list of list of int
        The regions still to restore, in work units (numbers of ``regions``, then of ``slabs``
        counted from ``len(regions)``).
    margin : int
        Rows of context each region is read with.
    grid : int
        Rows whose multiples a region's read starts on.
    want_std : bool
        Whether the denoiser reports a std map, written next to the item.
    started : float
        When planning began (``time.time()``).
    slabs : list of (str, int, int, int)
        With ``planes`` ``yx,zx,zy``: ``(orientation, volume number, first, end)`` of every zx
        and zy work region, whole zx planes of y rows ``first:end`` or zy planes of x columns
        (:func:`~restoration.planes.slab_regions`); empty otherwise.
    """

    plan: PlanePlan
    regions: list[tuple[int, int, int]]
    batches: list[list[int]]
    margin: int
    grid: int
    want_std: bool
    started: float
    slabs: list[tuple[str, int, int, int]] = field(default_factory=list)

    @property
    def total(self) -> int:
        """The number of work regions of the item (yx regions and slabs)."""
        return len(self.regions) + len(self.slabs)


@dataclass(frozen=True)
class Restored:
    """The denoise stage's outcome: seconds spent, and whether the item was complete already."""

    seconds: float
    skipped: bool = False


@dataclass(frozen=True)
class ItemResult:
    """One item's outcome for the tables and the report.

    Attributes
    ----------
    entry : Entry
    quality : dict
        Its quality.csv row (``status`` ``ok`` or ``failed``, ``error``).
    noise_rows : list of dict
        Its noise.csv rows (empty when it failed before characterization).
    skipped : bool
        Complete before this run.
    """

    entry: Entry
    quality: dict
    noise_rows: list[dict] = field(default_factory=list)
    skipped: bool = False

    @property
    def name(self) -> str:
        """The item name."""
        return self.quality["name"]
