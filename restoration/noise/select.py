"""Automatic noise selection (``--noise auto``) and the per-channel noise.csv row.

The host treats every model alike (ARCHITECTURE.md, "Likelihood for auto selection"):

1. one clean estimate of the data (:func:`~.reference.clean_estimate`), compared only where it is
   trustworthy (:func:`~.reference.smooth_pixels`) and no clip distorts it (:func:`censored`; at
   most :data:`LIKELIHOOD_PIXELS` pixels, spread evenly over the clean levels, passed to every
   model as one row without gaps);
2. each model's own :meth:`~restoration.NoiseModel.estimate` (the parameters reported), given
   the user's fixed values when it takes keywords; text values it returns are notes, reported as
   noise.csv columns and never passed back to the model;
3. its :meth:`~restoration.NoiseModel.log_likelihood` against the clean estimate, maximized over
   its free parameters jointly, each within 1/3..3x of its estimate (a profile likelihood: models
   are compared at their best, not at whatever bias their estimator has);
4. a BIC penalty ``k log(N) / (2N)`` for ``k`` parameters over the ``N`` compared pixels.

What a likelihood cannot tell comes from the models' class attributes, never from their names
(:class:`~restoration.NoiseModel`): a fit within :data:`TIE_TOLERANCE` of a model it ``nests`` is
reported as that simpler model (``gaussian`` over ``salt-and-pepper`` with no impulses, over
``poisson-gaussian`` with no shot noise); a model with an ``impulse_fraction`` that wins on
clipped data without the impulses to account for the pile-up gives way to the best model without
impulses; constant data (no noise) is reported as the model the most others nest, noise-free.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage, optimize

from ..errors import InputError
from ..types import NoiseModel
from .estimate import finite_values, piled_extremes, sample_planes
from .reference import KERNEL_RADIUS, clean_estimate, reference, smooth_pixels
from .saltpepper import impulse_mask

__all__ = ["NoiseFit", "characterize_array", "clean_estimate", "select_noise"]   # clean_estimate: .reference

log = logging.getLogger(__name__)

#: Mean log-likelihood per pixel (nats) within which two fits count as a tie. Small: every model
#: is scored at its profile maximum, so a nested model that adds nothing ties almost exactly.
TIE_TOLERANCE = 2e-4
#: Pixels used for selection and estimation (a deterministic sample of larger data).
SAMPLE_BUDGET = 1 << 19
#: At most this many pixels enter the likelihood comparison, from this many steps of the clean
#: level's range alike (:func:`_even_levels`).
LIKELIHOOD_PIXELS = 1 << 16
LEVEL_BINS = 32
#: An impulse model that wins explains the data's pile-up at its extremes only with a fraction of
#: at least this share of the isolated extreme values (:func:`characterize_array`): on impulse
#: noise its fraction is 1.0 to 1.3 times theirs, on clipped Gaussian noise 0.1 to 0.5 times.
ISOLATED_SHARE = 0.75
#: Likelihood evaluations per free parameter the profile search may spend (bounds its cost).
PROFILE_EVALUATIONS = 25
_SPAN = math.log(3.0)   # profile search range around each estimate (factor 1/3..3)


@dataclass
class NoiseFit:
    """One model fitted to the data: parameters, mean log-likelihood per pixel and BIC score."""

    noise: str
    params: dict[str, float]
    log_likelihood: float
    score: float   # log_likelihood - k * log(N) / (2 N)
    notes: dict[str, str] = field(default_factory=dict)   # the estimate's text values (noise.csv columns)


def _bic(loglik: float, k: int, n: int) -> float:
    return loglik - k * math.log(n) / (2.0 * n)


def _loglik(model: NoiseModel, sample: np.ndarray, ref: np.ndarray, params: dict) -> float:
    value = float(model.log_likelihood(sample, ref, **params))
    if not math.isfinite(value):
        raise ValueError(f"log_likelihood is {value}")
    return value


def _profile(model: NoiseModel, sample: np.ndarray, ref: np.ndarray, params: dict,
             free: list[str]) -> float:
    """The highest log-likelihood over the free parameters, each within 1/3..3x of its estimate.

    Every model is scored at its best fit to the same residuals, so one model's estimator being a
    few percent off (or absorbing the clean estimate's error differently) does not decide the
    selection. A bounded search on the log scale, joint where there are several (Powell's
    method: its line searches combine into the direction of a ridge, such as a camera's read noise
    traded against its offset, which searches one parameter at a time cannot follow), at most
    :data:`PROFILE_EVALUATIONS` likelihoods per parameter; zero values are left as they are.
    """
    top = _loglik(model, sample, ref, params)

    def negative(t: np.ndarray) -> float:
        try:
            return -_loglik(model, sample, ref, {**params, **{n: params[n] * math.exp(v) for n, v in zip(free, t)}})
        except Exception:       # outside the model's valid range: never the optimum
            return math.inf
    if len(free) == 1:
        res = optimize.minimize_scalar(lambda t: negative(np.array([t])), bounds=(-_SPAN, _SPAN), method="bounded",
                                       options={"xatol": 0.01})
    elif free:
        res = optimize.minimize(negative, np.zeros(len(free)), method="Powell", bounds=[(-_SPAN, _SPAN)] * len(free),
                                options={"xtol": 0.01, "ftol": 1e-10, "maxfev": PROFILE_EVALUATIONS * len(free)})
    else:
        return top
    return max(top, -float(res.fun)) if math.isfinite(res.fun) else top


def _estimate(model: NoiseModel, sample: np.ndarray, fixed: Mapping[str, float]) -> dict:
    """The model's estimates, given the fixed values when its ``estimate`` takes keywords (then
    it estimates the others consistently with them); a model with every parameter fixed and no
    such keywords is not asked."""
    takes_fixed = any(p.kind is p.VAR_KEYWORD for p in inspect.signature(model.estimate).parameters.values())
    if takes_fixed:
        return dict(model.estimate(sample, **fixed))
    return {} if set(model.params) <= set(fixed) else dict(model.estimate(sample))


def _fit(name: str, model: NoiseModel, sample: np.ndarray, pixels: tuple[np.ndarray, np.ndarray], n: int,
         fixed: Mapping[str, float]) -> NoiseFit:
    est = {**_estimate(model, sample, fixed), **fixed}
    notes = {k: v for k, v in est.items() if isinstance(v, str)}
    params = {k: float(est[k]) for k in model.params}     # a missing one skips the model
    free = [k for k in model.params if k not in fixed and params.get(k, 0.0) > 0]
    loglik = _profile(model, *pixels, params, free)
    return NoiseFit(name, params, float(loglik), float(_bic(loglik, len(model.params), n)), notes)


def select_noise(noisy: np.ndarray, models: Mapping[str, NoiseModel], *,
                 params: Mapping[str, float] | None = None) -> list[NoiseFit]:
    """Fit every model and rank them, best first.

    Parameters
    ----------
    noisy : ndarray
        One channel, ndim >= 2; NaN/inf are ignored. Larger data is sampled deterministically.
    models : mapping of name to NoiseModel
        The candidates (e.g. ``registry().noise_models``). A model that raises or returns a
        non-finite likelihood is skipped with a warning.
    params : mapping, optional
        Fixed parameter values (e.g. a user's ``--sigma``); only models that have all of them
        compete, with these values instead of estimates.

    Returns
    -------
    list of NoiseFit
        Best first: the highest score, except that among the fits within :data:`TIE_TOLERANCE`
        of it a model nested in another (``NoiseModel.nests``) is preferred to it; then the rest
        by score.

    Examples
    --------
    >>> from restoration.plugins import registry
    >>> rng = np.random.default_rng(0)
    >>> clean = np.tile(np.linspace(0.1, 0.9, 128), (128, 1))
    >>> select_noise(clean + 0.1 * rng.standard_normal(clean.shape), registry().noise_models)[0].noise
    'gaussian'
    """
    fixed = dict(params or {})
    sample = sample_planes(noisy, budget=SAMPLE_BUDGET)
    if not np.isfinite(sample).any():
        raise InputError("all values are NaN or infinite")
    ref, idx = compared_pixels(sample)
    n = int(idx.size)
    if n < 2:
        raise InputError("too few finite pixels to characterize the noise")
    # Every model sees the same compared pixels, and only those: one row, nothing missing.
    pixels = (sample.reshape(-1)[idx][None, :], ref.reshape(-1)[idx][None, :])
    fits = []
    for name, model in models.items():
        if not set(fixed) <= set(model.params):
            continue
        try:
            fits.append(_fit(name, model, sample, pixels, n, fixed))
        except InputError:
            raise
        except Exception as exc:   # a broken plugin model must not take the selection down
            log.warning("noise model %r skipped in selection: %s: %s", name, type(exc).__name__, exc)
    if not fits:
        raise InputError("no noise model could be fitted" + (f" with parameters {sorted(fixed)}" if fixed else ""))
    fits.sort(key=lambda f: -f.score)
    tied = {f.noise for f in fits if f.score >= fits[0].score - TIE_TOLERANCE}
    # A tie between a model and one it nests is no evidence for the larger one: the simpler wins.
    best = next((f for f in fits if f.noise in tied and not tied & set(models[f.noise].nests)), fits[0])
    return [best] + [f for f in fits if f is not best]


def compared_pixels(sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The clean estimate of ``sample`` and the flat indices of the pixels the models are compared
    on: trustworthy (:func:`~.reference.smooth_pixels`), undistorted by a clip (:func:`censored`,
    unless nearly all are) and spread over the clean levels (:func:`_even_levels`)."""
    ref, outlier = reference(sample)
    keep = smooth_pixels(sample, ref, outlier)
    clear = keep & ~censored(sample, ref, outlier)
    if clear.sum() >= 0.05 * keep.sum():        # (nearly all clipped: compare what there is)
        keep = clear
    return ref, _even_levels(np.flatnonzero(keep), ref.reshape(-1))


def _even_levels(idx: np.ndarray, level: np.ndarray) -> np.ndarray:
    """A deterministic subset of the compared pixels ``idx``, at most :data:`LIKELIHOOD_PIXELS`
    (it bounds the cost of the likelihood searches), spread evenly over their clean levels: at
    most an equal share from each of :data:`LEVEL_BINS` equal steps of the level's range (0.5 to
    99.5 %), every k-th within one. Noise models differ most at the ends of the range, which most
    pictures hold the fewest pixels of."""
    if idx.size <= LIKELIHOOD_PIXELS:
        return idx
    values = level[idx]
    lo, hi = np.quantile(values, [0.005, 0.995])
    step = np.searchsorted(np.linspace(lo, hi, LEVEL_BINS + 1)[1:-1], values)
    most = LIKELIHOOD_PIXELS // LEVEL_BINS
    parts = [idx[step == k] for k in range(LEVEL_BINS)]
    return np.sort(np.concatenate([p[:: -(-p.size // most)] if p.size > most else p for p in parts]))


def censored(sample: np.ndarray, ref: np.ndarray, outlier: np.ndarray) -> np.ndarray:
    """Pixels whose comparison a clip distorts: next to a value piled up at the data's minimum or
    maximum that is not an isolated impulse (``outlier``), or with a clean estimate within three
    residual stds of such an extreme.

    Clipped noise has no model's density there (it is truncated, and narrower), and the clean
    estimate next to it is biased: a model whose spread shrinks towards the extreme (shot noise
    towards zero) would win on the clip, not on the noise. Impulses stay: they are the evidence
    for impulse noise.
    """
    out = np.zeros(sample.shape, bool)
    clips = piled_extremes(sample)
    if not clips:
        return out
    finite = np.isfinite(sample)
    r = (sample - ref)[finite & ~outlier & np.isfinite(ref)]
    margin = 3.0 * 1.4826 * float(np.median(np.abs(r - np.median(r)))) if r.size else 0.0
    size = (1,) * (sample.ndim - 2) + (2 * KERNEL_RADIUS + 1,) * 2
    mean = float(finite_values(sample).mean())  # strictly between the extremes piled_extremes saw
    for v in clips:
        at = (sample == v) & ~outlier
        if at.any():
            near = ref < v + margin if v < mean else ref > v - margin
            out |= ndimage.maximum_filter(at, size=size, mode="constant") | near
    return out


def _base_model(models: Mapping[str, NoiseModel]) -> str:
    """The model the most others nest (the first registered of those): the plainest noise."""
    nested_by = {name: sum(name in m.nests for m in models.values()) for name in models}
    return max(models, key=lambda name: nested_by[name])


def _clipped_fraction(data: np.ndarray, finite: np.ndarray) -> float:
    """Fraction of pixels at integer dtype limits or piled up at the observed min/max."""
    values = data[finite]
    if values.size == 0:
        return 0.0
    limits = set(piled_extremes(data))
    if np.issubdtype(data.dtype, np.integer):
        info = np.iinfo(data.dtype)
        limits |= {v for v in (values.min(), values.max()) if v in (info.min, info.max)}
    if not limits:
        return 0.0
    return float(np.isin(values, list(limits)).sum() / data.size)


def _isolated_fraction(data: np.ndarray) -> float:
    """Fraction of (sampled) pixels at the data's minimum or maximum whose 3x3 median is not."""
    mask, _ = impulse_mask(sample_planes(data, budget=SAMPLE_BUDGET))
    return float(mask.mean()) if mask.size else 0.0


def characterize_array(data: np.ndarray, *, models: Mapping[str, NoiseModel], noise: str = "auto",
                       params: dict | None = None) -> dict:
    """The noise.csv row (without name/channel) for one channel of data, ndim >= 2.

    Parameters
    ----------
    data : ndarray
        One channel; NaN/inf are missing values.
    models : mapping of name to NoiseModel
        Registered models (``registry().noise_models``).
    noise : str
        ``"auto"`` to select among all models, or a model name.
    params : dict, optional
        Parameter values to use as given (e.g. ``{"sigma": 0.1}`` from ``--sigma``); the others are
        estimated. With ``"auto"`` only models having all of them compete.

    Returns
    -------
    dict
        ``{"noise", "score", "clipped_fraction", "missing_fraction", **params, **notes}``: the
        notes are the model's text values (e.g. ``offset_basis`` of ``poisson-gaussian``).

    Raises
    ------
    InputError
        Unknown model name (listing the valid ones), a parameter the model does not have, data
        with fewer than 2 dimensions, or no finite value ("all values are NaN or infinite").

    Examples
    --------
    >>> from restoration.plugins import registry
    >>> rng = np.random.default_rng(0)
    >>> x = np.tile(np.linspace(0.1, 0.9, 128), (128, 1)) + 0.05 * rng.standard_normal((128, 128))
    >>> row = characterize_array(x, models=registry().noise_models, noise="gaussian")
    >>> row["noise"], round(row["sigma"], 2), row["missing_fraction"]
    ('gaussian', 0.05, 0.0)
    """
    a = np.asarray(data)
    if a.dtype == bool:
        a = a.astype(np.uint8)
    if a.ndim < 2:
        raise InputError(f"expected data with at least 2 dimensions, got shape {a.shape}")
    finite = np.isfinite(a)
    if not finite.any():
        raise InputError("all values are NaN or infinite")
    fixed = {k: float(v) for k, v in (params or {}).items()}
    if noise == "auto":
        candidates = models
    elif noise in models:
        unknown = set(fixed) - set(models[noise].params)
        if unknown:
            raise InputError(f"noise model {noise!r} has no parameter {', '.join(sorted(unknown))} "
                             f"(parameters: {', '.join(models[noise].params)})")
        candidates = {noise: models[noise]}
    else:
        raise InputError(f"unknown noise {noise!r} (valid: auto, {', '.join(sorted(models))})")
    values = a[finite]
    clipped = _clipped_fraction(a, finite)
    if noise == "auto" and not fixed and values.min() == values.max():
        # Constant data carries no noise to tell models apart: the plainest model, noise-free.
        base = _base_model(models)
        best = NoiseFit(base, dict.fromkeys(models[base].params, 0.0), 0.0, 0.0)
    else:
        fits = select_noise(a, candidates, params=fixed)
        best = fits[0]
        impulses = models[best.noise].impulse_fraction
        if noise == "auto" and impulses and best.params.get(impulses, 0.0) < 0.5 * clipped \
                and best.params.get(impulses, 0.0) < ISOLATED_SHARE * _isolated_fraction(a):
            # Saturation, not impulses: clipped data piles up at its extremes in whole regions,
            # which a point mass explains better than any continuous model. Impulse noise makes
            # its extreme values isolated, and as many as its fraction says, even where the clean
            # image itself lies at an extreme (a dark background).
            best = next((f for f in fits[1:] if not models[f.noise].impulse_fraction), best)
    return {"noise": best.noise, "score": best.score, "clipped_fraction": clipped,
            "missing_fraction": float(1.0 - finite.mean()), **best.params, **best.notes}
