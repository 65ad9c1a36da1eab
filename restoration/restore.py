"""Restoring one plane: noise model -> transforms -> denoiser -> inverses (no I/O, no Prefect).

The host decides everything once per item (noise model and parameters per channel, transform
states, denoiser options) in a :class:`PlanePlan`; :func:`restore_plane` then applies it to any
plane of the item, so planes, regions and processes all restore the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .errors import InputError
from .plugins import Registry
from .types import Observation


@dataclass
class ChannelNoise:
    """The noise of one channel: a registered noise model's name and its fitted parameters."""
    noise: str
    params: dict[str, float]


@dataclass
class PlanePlan:
    """Everything needed to restore any plane of one item, JSON-able except the registry."""

    channels: list[ChannelNoise]               # one per channel (one for single-channel data)
    transforms: list[dict]                     # [{"name": ..., "state": {...}}], applied in order
    transforms_space: str                      # "input" or "stabilized": where the chain was fitted
    sigma: list[float]                         # per channel, in the transformed space
    value_range: tuple[float, float]           # transformed values the denoiser maps to its range
    denoiser: str
    options: dict[str, Any] = field(default_factory=dict)  # every declared option, resolved
    masked: bool = False                       # the sample had pixels to reconstruct (impulses, NaN)
    rgb: bool = False                          # the channels are a photograph's colours

    def to_dict(self) -> dict:
        """JSON-able form (provenance, the region key, other processes)."""
        return {"channels": [c.__dict__ for c in self.channels], "transforms": self.transforms,
                "transforms_space": self.transforms_space, "sigma": self.sigma,
                "value_range": list(self.value_range), "denoiser": self.denoiser, "options": self.options,
                "masked": self.masked, "rgb": self.rgb}

    @classmethod
    def from_dict(cls, d: dict) -> "PlanePlan":
        """Inverse of :meth:`to_dict`."""
        return cls([ChannelNoise(**c) for c in d["channels"]], d["transforms"], d["transforms_space"],
                   list(d["sigma"]), tuple(d["value_range"]), d["denoiser"], dict(d["options"]), bool(d.get("masked")),
                   bool(d.get("rgb")))


def _split(plane: np.ndarray, n: int) -> list[np.ndarray]:
    return [plane[..., c] for c in range(n)] if plane.ndim == 3 else [plane]


def to_stabilized(datas_in: list[np.ndarray], channels: list[ChannelNoise], reg: Registry) -> tuple[list[np.ndarray], list[float], np.ndarray | None]:
    """Per channel: the noise model's Gaussian space, its sigma there, and the union of masks."""
    datas, sigmas, mask = [], [], None
    for data, ch in zip(datas_in, channels):
        obs = reg.get("noise", ch.noise).to_gaussian(data, **ch.params)
        datas.append(np.asarray(obs.data, dtype=np.float64))
        sigmas.append(float(np.mean(obs.sigma)))
        if obs.mask is not None:
            mask = obs.mask if mask is None else (mask | obs.mask)
    return datas, sigmas, mask


def apply_transforms(x: np.ndarray, transforms: list[dict], reg: Registry, *, inverse: bool = False) -> np.ndarray:
    """``x`` through the fitted transform chain (``[{"name": ..., "state": ...}]``, in order), or back
    through it in reverse with ``inverse=True``.
    """
    chain = reversed(transforms) if inverse else transforms
    for t in chain:
        tr = reg.get("transform", t["name"])
        x = tr.inverse(x, t["state"]) if inverse else tr.forward(x, t["state"])
    return x


def transform_slope(sample: np.ndarray, transforms: list[dict], reg: Registry) -> float:
    """Median local slope of the transform chain over the sample: how it scales a small noise.

    Exact for the affine built-ins (percentile, minmax, zscore); an approximation for the others.
    """
    finite = sample[np.isfinite(sample)]
    if finite.size == 0 or not transforms:
        return 1.0
    x = np.quantile(finite, np.linspace(0.05, 0.95, 19))
    h = max(1e-6, 1e-3 * float(np.std(finite) or 1.0))
    slope = (apply_transforms(x + h, transforms, reg) - apply_transforms(x - h, transforms, reg)) / (2 * h)
    return float(np.median(np.abs(slope)))


def check_finite(values: np.ndarray, what: str) -> None:
    """Refuse a result holding NaN or infinity: written out, it would pass for a restoration.

    Masked input pixels (impulses, NaN) are the denoiser's to reconstruct, so none may stay NaN.

    Raises
    ------
    RuntimeError
        One line: ``what`` and how many values are not finite.
    """
    bad = np.count_nonzero(~np.isfinite(values))
    if bad:
        raise RuntimeError(f"{what} returned NaN or infinite values ({bad} of {np.size(values)})")


def restore_plane(plane: np.ndarray, plan: PlanePlan, reg: Registry, rng: np.random.Generator, *,
                  origin: int = 0, progress: Callable[[float], None] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Restore one ``(y, x)`` or ``(y, x, c)`` plane, or the band of rows of one starting at row
    ``origin``, in input units (float64 result). ``progress`` goes to the denoiser
    (:attr:`~restoration.types.Observation.progress`).

    Returns ``(restored, std)``; ``std`` is the per-pixel uncertainty in input units when the
    denoiser drew several samples, else None.
    """
    datas, _, mask = to_stabilized(_split(plane.astype(np.float64), len(plan.channels)), plan.channels, reg)
    nonfinite = ~np.isfinite(plane) if plane.ndim == 2 else ~np.isfinite(plane).all(axis=-1)
    if nonfinite.any():
        mask = nonfinite if mask is None else (mask | nonfinite)
    transformed = [apply_transforms(d, plan.transforms, reg) for d in datas]
    stacked = np.stack(transformed, axis=-1) if plane.ndim == 3 else transformed[0]
    sigma = np.asarray(plan.sigma, dtype=np.float64)
    noises = {ch.noise for ch in plan.channels}
    obs = Observation(stacked.astype(np.float32), sigma if plane.ndim == 3 else float(sigma[0]), mask, origin,
                      plan.value_range, plan.rgb, progress, noises.pop() if len(noises) == 1 else None)
    shape = stacked.shape
    del datas, transformed, stacked   # float64 copies: free them before the denoiser's peak
    result = reg.get("denoiser", plan.denoiser).denoise(obs, rng=rng, **plan.options)
    restored, std = result if isinstance(result, tuple) else (result, None)
    if restored.shape != shape:
        raise RuntimeError(f"denoiser {plan.denoiser!r} returned shape {restored.shape}, expected {shape}")
    check_finite(restored, f"denoiser {plan.denoiser!r}")
    if std is not None:
        check_finite(std, f"denoiser {plan.denoiser!r} (its std)")
    outs, stds = [], []
    for c, (ch, r) in enumerate(zip(plan.channels, _split(np.asarray(restored, np.float64), len(plan.channels)))):
        g = apply_transforms(r, plan.transforms, reg, inverse=True)
        out = reg.get("noise", ch.noise).from_gaussian(g, **ch.params)
        outs.append(out)
        if std is not None:
            s = _split(np.asarray(std, np.float64), len(plan.channels))[c]
            # Carry the spread through the inverse maps by their slope over r ± s (a one-sided
            # step overstates it where the inverse is convex: the GAT's at a few photons).
            noise = reg.get("noise", ch.noise)
            up, down = (noise.from_gaussian(apply_transforms(v, plan.transforms, reg, inverse=True), **ch.params)
                        for v in (r + s, r - s))
            stds.append(np.abs(up - down) / 2)
    restored_in = np.stack(outs, axis=-1) if plane.ndim == 3 else outs[0]
    std_in = (np.stack(stds, axis=-1) if plane.ndim == 3 else stds[0]) if stds else None
    return restored_in, std_in


#: ``--output-dtype`` choices: ``auto`` restores integer (and bool) data to float32 and keeps float
#: dtypes; ``input`` keeps the input's dtype (integers rounded and clipped); ``float32`` always.
OUTPUT_DTYPES = ("auto", "input", "float32")


def output_dtype(input_dtype: np.dtype, rule: str | None = "auto") -> np.dtype:
    """The restored array's dtype for data of ``input_dtype`` under ``rule`` (:data:`OUTPUT_DTYPES`).

    Integer detector data becomes float32 by default: rounding the restored values back to whole
    counts would add the quantization error the denoiser removed (0.8 to 1.7 dB at 5 photons).

    Examples
    --------
    >>> output_dtype(np.uint16), output_dtype(np.uint16, "input"), output_dtype(np.float64)
    (dtype('float32'), dtype('uint16'), dtype('float64'))
    """
    rule = rule or "auto"
    if rule not in OUTPUT_DTYPES:
        raise InputError(f"unknown output dtype {rule!r} (valid: {', '.join(OUTPUT_DTYPES)})")
    dtype = np.dtype(input_dtype)
    if rule == "float32" or (rule == "auto" and dtype.kind not in "fc"):
        return np.dtype(np.float32)
    return dtype


def cast_like(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """To the output dtype: clipped and rounded for integer types."""
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return np.clip(np.rint(np.nan_to_num(x, nan=0.0)), info.min, info.max).astype(dtype)
    return x.astype(dtype)
