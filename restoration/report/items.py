"""What the report is given per item: :class:`ReportItem`, with one :class:`ReportPlane` per plane
shown (several for a z/t stack)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class ReportPlane:
    """One plane of an item as the report shows it.

    Parameters
    ----------
    noisy, restored, reference, std : numpy.ndarray or None
        The plane, ``(y, x)`` or ``(y, x, c)``, in input units; a subsample of it when the item's
        :attr:`ReportItem.full_size` says so. ``std`` is the per-pixel uncertainty (several samples).
    crops : tuple of (numpy.ndarray or None), or None
        Full-resolution 1:1 crops of (noisy, restored, reference) for a subsampled plane; taken
        from the planes above (where they have the most detail) when not given.
    crop_origin : (int, int) or None
        ``(row, column)`` of the crops' top-left pixel in the full-resolution plane.
    label : str
        Which plane this is, e.g. ``"z = 12"`` or ``"t = 3, z = 0"``; empty for a single plane.
    """

    noisy: np.ndarray | None = None
    restored: np.ndarray | None = None
    reference: np.ndarray | None = None
    std: np.ndarray | None = None
    crops: tuple[np.ndarray | None, ...] | None = None
    crop_origin: tuple[int, int] | None = None
    label: str = ""


@dataclass
class ReportItem:
    """What the report shows for one input item.

    Parameters
    ----------
    name : str
        Item name (as in ``restored.zarr`` and the CSV files).
    status : str
        ``"ok"`` or ``"failed"``.
    error : str
        One-line error when failed.
    noisy, restored, reference : numpy.ndarray or None
        One representative plane, ``(y, x)`` or ``(y, x, c)``, in input units, when
        :attr:`planes` is empty. Any may be None; a failed item shows no images whatever is given.
    std : numpy.ndarray or None
        Per-pixel uncertainty plane, when several samples were drawn.
    full_size : (int, int) or None
        ``(height, width)`` of the item's plane when the planes are a subsample of it (the host
        subsamples planes too large to hold; sizes shown are the full ones).
    crops : tuple of (numpy.ndarray or None), or None
        Full-resolution crops of (noisy, restored, reference) for a subsampled plane.
    noise : dict
        The item's noise.csv row(s) merged, e.g. ``{"noise": "gaussian", "sigma": 0.1,
        "score": ..., "clipped_fraction": ...}``. A parameter may be a sequence (one value per
        channel).
    quality : dict
        Its quality.csv row: ``psnr``, ``ssim``, ``residual_sigma`` (the noise left in the
        output: a wavelet estimate of σ on the restored data, *not* a statistic of noisy −
        restored), ``seconds``, ``denoiser``, ``method`` (missing or NaN values show as a dash).
    provenance : dict
        The item's provenance (``attributes["restoration"]``), shown collapsed; its ``options``
        (``method``, ``samples``, ``steps``, ``ensemble``) say which method ran.
    planes : list of ReportPlane
        The planes to show, in stack order, when there are several (a z/t stack): the report lets
        the reader step through them. When empty the fields above make the one plane.
    current : int or None
        Which of :attr:`planes` is shown first (default: the middle one).
    stack_size : int or None
        How many planes the item has in all (the planes shown may be a selection).
    pixel_size : float or None
        Width of one full-resolution pixel along x, in :attr:`unit`: scale bars are drawn when
        both are known and the unit is a length.
    unit : str or None
        Unit of :attr:`pixel_size`: an OME-Zarr name (``"micrometer"``) or a symbol (``"µm"``).
    rgb : bool or None
        Whether a channel axis is colour (shown as one colour image) rather than separate channels
        (shown one grey panel per channel). None: 3 or 4 channels are colour.
    channel_names : sequence of str or None
        Names of the channels, for the per-channel panels.
    """

    name: str
    status: str
    error: str = ""
    noisy: np.ndarray | None = None
    restored: np.ndarray | None = None
    reference: np.ndarray | None = None
    std: np.ndarray | None = None
    full_size: tuple[int, int] | None = None
    crops: tuple[np.ndarray | None, ...] | None = None
    noise: dict = field(default_factory=dict)
    quality: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    planes: list[ReportPlane] = field(default_factory=list)
    current: int | None = None
    stack_size: int | None = None
    pixel_size: float | None = None
    unit: str | None = None
    rgb: bool | None = None
    channel_names: Sequence[str] | None = None

    def views(self) -> list[ReportPlane]:
        """The planes to show: :attr:`planes`, or the one made of the single-plane fields."""
        if self.planes:
            return list(self.planes)
        return [ReportPlane(noisy=self.noisy, restored=self.restored, reference=self.reference, std=self.std,
                            crops=self.crops)]
