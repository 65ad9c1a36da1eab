"""Self-supervised adaptation: fine-tune the diffusion model on the user's noisy data alone.

Each input is characterized and mapped to Gaussian noise exactly as ``restoration run`` does
(:func:`restoration.planning.plan_array`: the noise model's stabilization, the transform chain and
the denoiser's value range), so every training plane is in model units with a known noise sigma.
No clean image is used. Two losses, both unbiased for the supervised one under their assumptions:

- ``n2n`` (default), Neighbor2Neighbor (Huang et al., CVPR 2021): two half-size images of
  adjacent pixels have independent noise and nearly the same signal; the x0 prediction from one
  is trained against the other (plus the paper's regularizer for their signal difference). It
  needs only pixel-independent zero-mean noise.
- ``r2r``, Recorrupted-to-Recorrupted (Pang et al., CVPR 2021): ``y1 = y + a sigma z`` and
  ``y2 = y - sigma z / a`` have independent noises when the noise is Gaussian of exactly that
  sigma; the x0 prediction from ``y1`` at ``sigma sqrt(1 + a^2)`` is trained against ``y2``.

Measured (``benchmarks/results/microscopy_validation.md``, 2 minutes per level): on stabilized
camera noise R2R loses 5.7 dB on average against the shipped model, n2n gains +0.48 / +0.06 /
-0.35 dB at 5 / 20 / 100 photons; after the stabilizing transform that noise is not exactly
Gaussian at low counts (least so on the dark background), which R2R's independence of ``y1`` and
``y2`` needs. On Gaussian noise both gain (R2R +0.21, n2n +0.13 dB, 40 steps on two 256x256
images). Adaptation pays on photon-starved data; where the noise is mild, n2n's neighbour
subsampling costs more than it teaches (``benchmarks/results/microscopy.md``).

Which weights are written. Adaptation can also take away: where the noise is mild, n2n's
neighbour subsampling costs more than it teaches, and a longer run loses more. So the base model
and every checkpoint's EMA weights are judged on the data itself (:func:`held_out_error`, a
Noise2Self loss: hidden pixels predicted from their surroundings, errors weighed in the data's own
units), and the output file holds the best of them, the base model included
(``selected`` in its provenance: the step, every checkpoint's score and margin). A checkpoint
replaces the base model only when it beats it by more than :data:`JUDGE_MARGIN` standard errors
(:func:`judge_margin`): a score lower by chance would adapt where adapting takes away. Chosen on
the microscopy benchmark's validation images over SURE and an unweighted loss
(``benchmarks/adapt_judge.py``, ``benchmarks/results/adapt_judge.md``): at 5, 10, 20, 50 and 100
photons, checkpoints every 50 steps, it picked the best checkpoint (within 0.05 dB) at every level,
the base model at 100 photons, where every checkpoint lost 0.1 to 0.7 dB.

The ``restoration adapt`` command and the ``adapt-denoiser`` flow call :func:`adapt`.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import math
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from ..errors import InputError
from .checkpoint import atomic_torch_save, load_resume_state, load_training_state, resume_state_path, save_model
from .model import DiffusionModel, load_model
from .device import resolve_device
from .train import MIN_PATCH, git_commit, learning_rate, optimizer_step
from .unet import count_parameters

# Planes read per item, evenly spaced: a long stack adds time to read, not new noise statistics.
MAX_PLANES = 32
# Extra levels reach up to this factor above s1; the restored level itself is s1 / sqrt(1 + a^2).
EXTRA_LEVEL_FACTOR = 4.0
LOSSES = ("r2r", "n2n")
#: Checkpoints are judged on at most this many planes (evenly spaced), at most this many pixels a side.
JUDGE_PLANES = 6
JUDGE_SIDE = 256
#: The judge hides every 4th pixel of every 4th row, in these 4 phases in turn (a hidden pixel's 4
#: neighbours are never hidden with it: they stand in for it, averaged).
_HIDE_STEP = 4
_HIDE_PHASES = ((0, 0), (2, 2), (0, 2), (2, 0))
#: A checkpoint replaces the base model's weights only where its hidden-pixel error is lower by
#: more than this many standard errors (:func:`judge_margin`): on weaker evidence, keeping the base
#: model risks less than adapting (chosen on the validation images, ``benchmarks/adapt_judge.py``).
JUDGE_MARGIN = 2.0
#: The standard error is taken over blocks of this many hidden pixels a side (32 pixels): the
#: errors of nearby hidden pixels are not independent (the network sees them together).
_JUDGE_BLOCK = 8


@dataclass
class AdaptConfig:
    """Settings of one adaptation run (the ``restoration adapt`` options).

    ``steps`` spans the learning-rate schedule; ``stop_at`` and ``max_minutes`` end the run
    earlier, resumably. ``alpha`` is R2R's recorruption strength ``a``; ``extra`` the share of
    samples trained at a higher level. ``noise``, ``sigma``, ``gain``, ``read_noise``, ``offset``,
    ``dark``, ``transforms`` and ``axes`` mean what they mean for ``restoration run``.
    """

    sources: list[str]
    output: str
    init: str | None = None          # base model; None: the shipped one
    steps: int = 1000
    patch: int = 64
    batch: int = 4
    lr: float = 1e-5   # a trained model is near its optimum: larger steps undo more than they adapt
    warmup: int = 20
    ema: float = 0.999
    loss: str = "n2n"
    alpha: float = 0.5
    extra: float = 0.25
    seed: int = 0
    checkpoint_every: int = 100
    device: str = "auto"
    threads: int | None = None
    stop_at: int | None = None
    max_minutes: float | None = None
    noise: str = "auto"
    sigma: float | None = None
    gain: float | None = None
    read_noise: float | None = None
    offset: float | None = None
    dark: str | None = None
    transforms: list[str] | None = None
    axes: str | None = None

    def to_dict(self) -> dict:
        """The fields as a dict, as stored in the adapted model's provenance."""
        return dict(self.__dict__)

    def identity(self) -> dict:
        """What a resumed run must share with the one it continues (not where or how long it runs)."""
        return {k: v for k, v in self.to_dict().items() if k not in ("stop_at", "max_minutes", "threads", "device")}


@dataclass
class NoisyPlane:
    """One training plane: model units (data range mapped to [-1, 1]), its noise sigma there, and
    the map from model units back to the data's own units (the inverse of the noise model's
    stabilization, the transforms and the scaling; None: the identity)."""

    data: np.ndarray     # (y, x) float32
    sigma: float
    to_data: Callable[[np.ndarray], np.ndarray] | None = None


def check_config(cfg: AdaptConfig) -> DiffusionModel:
    """Refuse options that cannot adapt, before any data is read; return the base model.

    Raises
    ------
    InputError
        One line naming the option (or the bad ``--init`` file) and the problem.
    """
    for option, value, least in (("--steps", cfg.steps, 1), ("--batch", cfg.batch, 1),
                                 ("--checkpoint-every", cfg.checkpoint_every, 1), ("--threads", cfg.threads, 1),
                                 ("--stop-at", cfg.stop_at, 1), ("--seed", cfg.seed, 0)):
        if value is not None and value < least:
            raise InputError(f"{option} must be >= {least}, not {value}")
    for option, value in (("--lr", cfg.lr), ("--alpha", cfg.alpha), ("--max-minutes", cfg.max_minutes)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise InputError(f"{option} must be a positive number, not {value}")
    if cfg.loss not in LOSSES:
        raise InputError(f"--loss must be one of {', '.join(LOSSES)}, not {cfg.loss!r}")
    if not 0 <= cfg.extra <= 1:
        raise InputError(f"--extra must be between 0 and 1, not {cfg.extra}")
    base = load_model(cfg.init)   # a bad file raises CheckpointError, an InputError
    # n2n trains on half-size sub-images: they too must fit the network's grid
    halves = 2 if cfg.loss == "n2n" else 1
    multiple, least = base.config.multiple * halves, MIN_PATCH * halves
    if cfg.patch < least or cfg.patch % multiple:
        raise InputError(f"--patch {cfg.patch}: must be at least {least} and a multiple of {multiple} "
                         f"(the network's downsampling factor{', twice: n2n halves the patch' if cfg.loss == 'n2n' else ''})")
    if base.config.channels != 1:
        raise InputError("adapt trains grayscale (1-channel) models; the --init model has "
                         f"{base.config.channels} channels", path=cfg.init)
    return base


def noisy_planes(cfg: AdaptConfig) -> tuple[list[NoisyPlane], list[dict]]:
    """The inputs as stabilized planes in model units, and a description of each item.

    Every channel of every plane (up to :data:`MAX_PLANES` per item) is a training plane of its
    own, as a grayscale model restores each channel. The description holds the item's name,
    where it is, its content fingerprint (as ``restoration run`` records it), the noise rows
    found and the sigma in model units.

    Raises
    ------
    InputError
        An input that cannot be read, has pixels no Gaussian model covers (impulses, NaN), or no
        plane of at least ``cfg.patch`` pixels a side.
    """
    from ..io import discover, fingerprint
    from ..noise.calibration import calibration
    from ..planning import plan_array, plane_indices, read_plane
    from ..plugins import registry
    from ..restore import apply_transforms, to_stabilized

    reg = registry()
    fixed = calibration(gain=cfg.gain, read_noise=cfg.read_noise, offset=cfg.offset, dark=cfg.dark)
    planes, described = [], []
    for item in discover(list(cfg.sources), axes=cfg.axes):
        arr = item.open()
        rows, plan = plan_array(arr, item.axes, reg, noise=cfg.noise, sigma=cfg.sigma, fixed=fixed,
                                transforms=cfg.transforms, denoiser="diffusion", options={})
        if plan.masked:   # impulses or NaN: those pixels carry no Gaussian noise to recorrupt
            raise InputError("has impulse noise or missing pixels, which adaptation cannot train on", path=item.where)
        if min(item.shape[item.axes.index("y")], item.shape[item.axes.index("x")]) < cfg.patch:
            raise InputError(f"is smaller than the training patch ({cfg.patch} px; lower --patch)", path=item.where)
        lo, hi = plan.value_range
        scale = 2.0 / (hi - lo)   # the diffusion denoiser's mapping of value_range to [-1, 1]
        indices = plane_indices(item.axes, item.shape)
        pick = np.unique(np.linspace(0, len(indices) - 1, min(MAX_PLANES, len(indices))).round().astype(int))
        for i in pick:
            plane = read_plane(arr, item.axes, indices[i]).astype(np.float64)
            channels = [plane[..., c] for c in range(plane.shape[-1])] if plane.ndim == 3 else [plane]
            datas, _, _ = to_stabilized(channels, plan.channels, reg)
            for data, sig, ch in zip(datas, plan.sigma, plan.channels):
                t = apply_transforms(data, plan.transforms, reg)

                def to_data(m: np.ndarray, ch=ch, lo=lo, scale=scale, transforms=plan.transforms) -> np.ndarray:
                    g = apply_transforms((np.asarray(m, np.float64) + 1.0) / scale + lo, transforms, reg, inverse=True)
                    return reg.get("noise", ch.noise).from_gaussian(g, **ch.params)
                planes.append(NoisyPlane(((t - lo) * scale - 1.0).astype(np.float32), float(sig * scale), to_data))
        described.append({"name": item.name, "source": item.where, "fingerprint": fingerprint(item),
                          "planes": len(pick), "noise": rows, "sigma_model_units": [s * scale for s in plan.sigma]})
    if not planes:
        raise InputError("no input found to adapt on")
    return planes, described


class Patches:
    """Seeded random training patches with flips and 90-degree rotations.

    Flips and rotations keep white noise white and its sigma unchanged; the trainer's contrast
    changes and half-size copies would not, so they are not used here.
    """

    def __init__(self, planes: Sequence[NoisyPlane], patch: int):
        self.planes, self.patch = list(planes), patch
        sizes = np.array([p.data.size for p in self.planes], dtype=np.float64)
        self.p = sizes / sizes.sum()

    def draw(self, n: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``(y, sigma)``: ``n`` noisy patches ``(n, 1, P, P)`` and their noise sigma ``(n,)``."""
        y = np.empty((n, 1, self.patch, self.patch), dtype=np.float32)
        sigma = np.empty(n, dtype=np.float32)
        for k in range(n):
            plane = self.planes[rng.choice(len(self.planes), p=self.p)]
            r = rng.integers(0, plane.data.shape[0] - self.patch + 1)
            c = rng.integers(0, plane.data.shape[1] - self.patch + 1)
            patch = np.rot90(plane.data[r:r + self.patch, c:c + self.patch], rng.integers(4))
            y[k, 0] = patch[:, ::-1] if rng.uniform() < 0.5 else patch
            sigma[k] = plane.sigma
        return torch.from_numpy(y), torch.from_numpy(sigma)


def _weighted_mse(x: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
    """Mean of ``(x / level)**2``: an x0 error weighted as the base trainer's epsilon loss
    (``||x0_hat - x0||^2 / s^2``), so that every level weighs as in the base model's training."""
    return torch.mean((x / level[:, None, None, None]) ** 2)


def r2r_loss(model: DiffusionModel, y: torch.Tensor, sigma: torch.Tensor, cfg: AdaptConfig,
             rng: np.random.Generator, gen: torch.Generator) -> torch.Tensor:
    """Recorrupted-to-Recorrupted: the x0 prediction from ``y + a sigma z`` at ``sigma sqrt(1 + a^2)``
    (or, for a share ``cfg.extra`` of the samples, with more independent noise at a higher
    level) against ``y - sigma z / a``."""
    a = cfg.alpha
    s1 = sigma * math.sqrt(1 + a * a)
    higher = torch.from_numpy(rng.uniform(size=len(y)) < cfg.extra)
    factor = torch.from_numpy(np.exp(rng.uniform(0, math.log(EXTRA_LEVEL_FACTOR), len(y))).astype(np.float32))
    level = torch.where(higher, s1 * factor, s1)
    s = sigma[:, None, None, None]
    z = torch.randn(y.shape, generator=gen).to(y.device)
    more = torch.randn(y.shape, generator=gen).to(y.device) * torch.sqrt(level ** 2 - s1 ** 2)[:, None, None, None]
    x0, _ = model.predict(y + a * s * z + more, level)
    return _weighted_mse(x0 - (y - s * z / a), level)


# Pairs of adjacent pixels of a 2x2 cell (indices 0 1 / 2 3): Neighbor2Neighbor's sub-samplers.
_NEIGHBOURS = torch.tensor([[0, 1], [0, 2], [1, 0], [1, 3], [2, 0], [2, 3], [3, 1], [3, 2]])


def _subsample(x: torch.Tensor, pick: torch.Tensor) -> torch.Tensor:
    """One pixel of every 2x2 cell of ``x`` ``(n, 1, H, W)``, the one ``pick`` ``(n, H/2, W/2)`` names."""
    n, _, h, w = x.shape
    cells = x.reshape(n, h // 2, 2, w // 2, 2).permute(0, 1, 3, 2, 4).reshape(n, h // 2, w // 2, 4)
    return torch.gather(cells, 3, pick[..., None])[..., 0][:, None]


def n2n_loss(model: DiffusionModel, y: torch.Tensor, sigma: torch.Tensor, gen: torch.Generator,
             gamma: float = 2.0) -> torch.Tensor:
    """Neighbor2Neighbor (Huang et al., CVPR 2021): two half-size images of adjacent pixels, the
    x0 prediction from one (at the data's sigma) against the other, with the regularizer that
    removes the pair's signal difference as seen in the prediction of the whole patch."""
    n, _, h, w = y.shape
    pairs = _NEIGHBOURS.to(y.device)[torch.randint(0, 8, (n, h // 2, w // 2), generator=gen).to(y.device)]
    g1, g2 = _subsample(y, pairs[..., 0]), _subsample(y, pairs[..., 1])
    with torch.no_grad():
        whole, _ = model.predict(y, sigma)
    x0, _ = model.predict(g1, sigma)
    diff = x0 - g2
    return _weighted_mse(diff, sigma) + gamma * _weighted_mse(diff - (_subsample(whole, pairs[..., 0])
                                                                     - _subsample(whole, pairs[..., 1])), sigma)


@dataclass
class JudgeTile:
    """A plane the checkpoints are judged on: data and sigma (model units, ``(1, 1, H, W)``), and
    per pixel the squared slope of the data's units per model unit at the base model's
    restoration (fixed, so that no model lowers its score by moving where the slope is small)."""

    data: torch.Tensor
    sigma: torch.Tensor
    weight: torch.Tensor


def judge_tiles(planes: Sequence[NoisyPlane], base: DiffusionModel, device: torch.device) -> list[JudgeTile]:
    """Up to :data:`JUDGE_PLANES` evenly spaced planes, their top-left :data:`JUDGE_SIDE` pixels a
    side (cut to the network's multiple), with the weights :func:`held_out_error` needs."""
    m = base.config.multiple
    pick = np.unique(np.linspace(0, len(planes) - 1, min(JUDGE_PLANES, len(planes))).round().astype(int))
    tiles = []
    for p in (planes[i] for i in pick):
        h, w = (min(JUDGE_SIDE, n) // m * m for n in p.data.shape)
        y = torch.from_numpy(np.ascontiguousarray(p.data[:h, :w]))[None, None].to(device)
        sigma = torch.tensor([p.sigma], dtype=torch.float32, device=device)
        if p.to_data is None:
            weight = torch.ones_like(y)
        else:
            with torch.no_grad():
                f = base.predict(y, sigma)[0].cpu().numpy().astype(np.float64)
            step = 1e-3
            slope = (p.to_data(f + step) - p.to_data(f - step)) / (2 * step)
            weight = torch.from_numpy(np.square(slope).astype(np.float32)).to(device)
        tiles.append(JudgeTile(y, sigma, weight / weight.mean().clamp_min(1e-30)))
    return tiles


def held_out_error(model: DiffusionModel, tiles: Sequence[JudgeTile],
                   errors: Sequence[tuple[torch.Tensor, torch.Tensor]] | None = None) -> float:
    """Mean squared error of the model's one-step restoration at pixels it does not see, in the
    data's own units, relative to the noise variance: lower is better.

    Noise2Self's loss (Batson & Royer, ICML 2019): every 4th pixel of every 4th row is hidden
    (replaced by the mean of its 4 neighbours) and predicted, in 4 phases. A hidden pixel's noise
    is independent of the prediction, so the expected squared difference from the noisy pixel is
    the prediction's error plus the noise variance, the latter the same for every model judged on
    the same tiles: no clean image, noise level or Gaussian noise is assumed, only noise
    independent from pixel to pixel. Each error is weighted by its tile's squared slope of the
    data's units per model unit (:class:`JudgeTile`), so the score ranks models as the error of
    their restorations in the data's units would. ``errors``: the tiles' :func:`hidden_errors`
    where the caller has them already.
    """
    errors = errors if errors is not None else [hidden_errors(model, t) for t in tiles]
    return float(np.mean([float((w * e).sum() / w.sum()) for e, w in errors]))


def hidden_errors(model: DiffusionModel, tile: JudgeTile) -> tuple[torch.Tensor, torch.Tensor]:
    """The squared errors of :func:`held_out_error` at the tile's hidden pixels, over the noise
    variance, and their weights: each ``(phases, H / 4, W / 4)``, a phase's hidden pixels in place."""
    was_training = model.net.training
    model.net.eval()
    errs, weights = [], []
    with torch.no_grad():
        pad = torch.nn.functional.pad(tile.data, (1, 1, 1, 1), mode="reflect")
        around = 0.25 * (pad[..., :-2, 1:-1] + pad[..., 2:, 1:-1] + pad[..., 1:-1, :-2] + pad[..., 1:-1, 2:])
        for r, c in _HIDE_PHASES:
            hidden = torch.zeros_like(tile.data, dtype=torch.bool)
            hidden[..., r::_HIDE_STEP, c::_HIDE_STEP] = True
            x0, _ = model.predict(torch.where(hidden, around, tile.data), tile.sigma)
            errs.append(((x0 - tile.data)[0, 0, r::_HIDE_STEP, c::_HIDE_STEP] ** 2) / float(tile.sigma) ** 2)
            weights.append(tile.weight[0, 0, r::_HIDE_STEP, c::_HIDE_STEP])
    model.net.train(was_training)
    return torch.stack(errs).double().cpu(), torch.stack(weights).double().cpu()


def judge_margin(errors: Sequence[tuple[torch.Tensor, torch.Tensor]],
                 base: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """How many standard errors lower a model's weighted hidden-pixel error is than the base
    model's on the same pixels (``errors``, ``base``: :func:`hidden_errors` of each tile).

    The difference is paired pixel by pixel, pooled over the tiles (a ratio of weighted sums), and
    its standard error taken over blocks of :data:`_JUDGE_BLOCK` hidden pixels a side; fewer than
    2 blocks give no evidence (0).

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> e0, w = torch.rand(4, 64, 64, generator=g, dtype=torch.float64), torch.ones(4, 64, 64, dtype=torch.float64)
    >>> judge_margin([(e0, w)], [(e0, w)])
    0.0
    >>> judge_margin([(0.5 * e0, w)], [(e0, w)]) > 10
    True
    """
    d_sums, w_sums = [], []
    for (e1, w), (e0, _) in zip(errors, base):
        b = _JUDGE_BLOCK
        h, wd = -(-e1.shape[-2] // b) * b, -(-e1.shape[-1] // b) * b
        for x, out in ((w * (e0 - e1), d_sums), (w, w_sums)):
            x = torch.nn.functional.pad(x, (0, wd - x.shape[-1], 0, h - x.shape[-2]))
            out.append(x.reshape(x.shape[0], h // b, b, wd // b, b).sum(dim=(0, 2, 4)).ravel())
    d, w = torch.cat(d_sums), torch.cat(w_sums)
    if d.numel() < 2 or float(d.abs().sum()) == 0.0:
        return 0.0
    r = float(d.sum() / w.sum())
    se = float(torch.sqrt(((d - r * w) ** 2).sum() * d.numel() / (d.numel() - 1)) / w.sum())
    return r / max(se, 1e-12 * abs(r))     # finite (provenance is JSON) where every block agrees exactly


def kept_step(judged: Sequence[Sequence[float]]) -> int:
    """The step whose weights ``adapt`` keeps, from ``[step, score, margin]`` rows (the base
    model's, step 0, first): the lowest score of those more than :data:`JUDGE_MARGIN` standard
    errors below the base model's (the earliest on a tie), else the base model's.

    Examples
    --------
    >>> kept_step([[0, 1.0, 0.0], [100, 0.98, 3.1], [200, 0.97, 1.5], [300, 0.99, 4.0]])
    100
    >>> kept_step([[0, 1.0, 0.0], [100, 0.99, 1.9]])
    0
    """
    passed = [row for row in judged[1:] if row[2] > JUDGE_MARGIN] or judged[:1]
    return int(min(passed, key=lambda row: row[1])[0])


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def adapt(cfg: AdaptConfig, *, resume: bool = False,
          progress: Callable[[int, int, float], None] | None = None) -> dict:
    """Adapt the base model to ``cfg.sources`` and write the EMA model to ``cfg.output``.

    Every ``checkpoint_every`` steps, and when ``stop_at`` or ``max_minutes`` ends the run, the
    EMA weights are judged (:func:`held_out_error`) and the model file is written with the best
    weights judged so far, the base model's unless a checkpoint beats it by more than
    :data:`JUDGE_MARGIN` standard errors (:func:`judge_margin`), and a resume state (``OUTPUT.state``: raw weights, EMA, optimizer, step, the numpy
    generator) are written atomically; ``resume=True`` continues from that state bit for bit on
    the same machine, provided the data and settings are those the state was made with. The loss
    log goes to ``OUTPUT.log.csv``.

    Returns
    -------
    dict
        The provenance written into the model file: the base model (``base``: its id and
        provenance), the data (``adapted_on``: fingerprints and noise rows per item), seeds,
        steps, settings and time, and which weights the file holds (``selected``: ``step``, 0
        for the base model's, and ``judged``, every ``[step, score, margin]``).

    Raises
    ------
    InputError
        Bad options, inputs or ``--init`` file; a state made with other data or settings; a
        non-finite loss.
    """
    base = check_config(cfg)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    planes, described = noisy_planes(cfg)
    patches = Patches(planes, cfg.patch)
    identity = _digest({"config": cfg.identity(), "data": [d["fingerprint"] for d in described],
                        "base": base.model_id})
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator(device="cpu")   # reseeded from rng every step: rng's state is all to resume

    model = DiffusionModel.from_config(base.to_config())
    model.net.load_state_dict(base.net.state_dict())
    model.to(device)
    ema = copy.deepcopy(model.net).requires_grad_(False)
    judge = DiffusionModel.from_config(base.to_config()).to(device)    # the EMA weights, judged
    judge.net.load_state_dict(base.net.state_dict())
    tiles = judge_tiles(planes, judge, device)
    base_errors = [hidden_errors(judge, t) for t in tiles]
    best = {"step": 0, "weights": copy.deepcopy(base.net.state_dict())}
    judged: list[list] = []     # [step, score, margin] per judged checkpoint, the base model's first
    opt = torch.optim.Adam(model.net.parameters(), lr=cfg.lr, betas=(0.9, 0.99))
    step, started, elapsed_before = 0, time.time(), 0.0
    state_path = resume_state_path(cfg.output)
    if resume and state_path.is_file():
        st = load_resume_state(state_path, map_location=device)
        if st.get("identity") != identity:
            raise InputError("was made from other data, base model or settings; adapt again without --resume",
                             path=str(state_path))
        load_training_state(st, state_path, model.net, ema, opt)
        step, elapsed_before = int(st["step"]), float(st["elapsed"])
        # (states written before the judge or its margin: it starts again from the base model)
        if "best" in st and all(len(row) == 3 for row in json.loads(st["judged"])):
            best = {"step": int(st["best_step"]), "weights": st["best"]}
            judged = json.loads(st["judged"])
        rng.bit_generator.state = json.loads(st["numpy_rng"])
    if not judged:
        judged.append([0, held_out_error(judge, tiles, base_errors), 0.0])
    log_path = Path(str(cfg.output) + ".log.csv")
    if step == 0 or not log_path.exists():
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text("step,loss,lr,seconds\n")

    def elapsed() -> float:
        return elapsed_before + time.time() - started

    def provenance() -> dict:
        return {"adaptation": {"loss": cfg.loss, "alpha": cfg.alpha, "extra": cfg.extra,
                               "extra_level_factor": EXTRA_LEVEL_FACTOR},
                "adapted_on": described, "steps": step, "seed": cfg.seed,
                "seeds": {"numpy": cfg.seed, "torch": "per step, drawn from the numpy generator"},
                "adapt_config": cfg.to_dict(), "commit": git_commit(), "parameters": count_parameters(model.net),
                "seconds": round(elapsed(), 1), "device": str(device), "torch": torch.__version__,
                "python": platform.python_version(), "base": {"model_id": base.model_id, **base.provenance},
                "selected": {"step": best["step"], "judged": judged, "margin": JUDGE_MARGIN,
                             "score": "[step, held_out_error: hidden-pixel squared error in the data's units / noise "
                                      "variance, judge_margin: standard errors below the base model's]"}}

    def checkpoint() -> None:
        if judged[-1][0] != step:
            judge.net.load_state_dict(ema.state_dict())
            errors = [hidden_errors(judge, t) for t in tiles]
            judged.append([step, held_out_error(judge, tiles, errors), judge_margin(errors, base_errors)])
            if kept_step(judged) == step:
                best.update(step=step, weights=copy.deepcopy(ema.state_dict()))
        save_model(cfg.output, best["weights"], model.to_config(), provenance())
        atomic_torch_save({"net": model.net.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                           "step": step, "elapsed": elapsed(), "identity": identity,
                           "numpy_rng": json.dumps(rng.bit_generator.state), "best": best["weights"],
                           "best_step": best["step"], "judged": json.dumps(judged)}, state_path)

    losses: list[float] = []
    model.net.train()
    end = min(cfg.steps, cfg.stop_at) if cfg.stop_at else cfg.steps
    deadline = cfg.max_minutes * 60 if cfg.max_minutes else math.inf
    while step < end and elapsed() < deadline:
        for group in opt.param_groups:
            group["lr"] = learning_rate(step, cfg)
        gen.manual_seed(int(rng.integers(2**62)))
        y, sigma = (t.to(device) for t in patches.draw(cfg.batch, rng))
        loss = (r2r_loss(model, y, sigma, cfg, rng, gen) if cfg.loss == "r2r" else n2n_loss(model, y, sigma, gen))
        if not torch.isfinite(loss):  # stop before the step: the weights (and checkpoints) stay finite
            raise InputError(f"--lr {cfg.lr:g}: adaptation diverged at step {step + 1}; try a lower --lr")
        step = optimizer_step(loss, model, ema, opt, step, cfg.ema)
        losses.append(float(loss.detach()))
        if step % 50 == 0 or step == end:
            with log_path.open("a") as f:
                csv.writer(f).writerow([step, f"{np.mean(losses):.6f}", f"{learning_rate(step - 1, cfg):.3e}",
                                        round(elapsed(), 1)])
            if progress:
                progress(step, cfg.steps, float(np.mean(losses)))
            losses.clear()
        if step % cfg.checkpoint_every == 0:
            checkpoint()
    if step % cfg.checkpoint_every or not Path(cfg.output).exists():   # the last step, or where the time box ended
        checkpoint()
    return provenance()
