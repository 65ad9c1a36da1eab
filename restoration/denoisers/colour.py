"""Joint colour restoration: RGB planes in an opponent space whose noise stays white.

The rows of :data:`OPPONENT` (luminance, red-blue, green-magenta) are orthogonal, so white noise of
std ``sigma`` in R, G and B becomes independent noise of std ``sigma * |row|`` in each opponent
channel: a per-channel denoiser then sees the luminance at a third of the noise variance and two
smooth chroma planes, which is where CBM3D's advantage over per-channel restoration comes from.
The luminance keeps the data's range; the chroma planes are centred on its middle.
"""

from __future__ import annotations

import numpy as np

OPPONENT = np.array([[1 / 3, 1 / 3, 1 / 3],
                     [1 / 2, 0.0, -1 / 2],
                     [1 / 4, -1 / 2, 1 / 4]])
#: Inverse of OPPONENT: its transpose over the squared row norms (the rows are orthogonal).
_INVERSE = OPPONENT.T / np.sum(OPPONENT**2, axis=1)
#: Noise std of each opponent channel per unit std of white RGB noise.
NOISE_GAIN = np.sqrt(np.sum(OPPONENT**2, axis=1))
#: The largest ratio of the channels' noise std for which joint restoration is used by default:
#: with unequal noise the opponent channels' noises are correlated.
COMPARABLE = 1.25
MODES = ("auto", "joint", "per-channel")


def use_joint(mode: str, sigma: np.ndarray) -> bool:
    """Whether to restore three channels with noise stds ``sigma`` jointly under ``mode``.

    ``"joint"`` always does (for three channels), ``"per-channel"`` never, and ``"auto"`` when
    the stds are within a factor :data:`COMPARABLE` of each other.
    """
    if mode not in MODES:
        raise ValueError(f"unknown colour mode {mode!r} (valid: {', '.join(MODES)})")
    sigma = np.asarray(sigma, dtype=np.float64).reshape(-1)
    if sigma.size != 3 or mode == "per-channel":
        return False
    return mode == "joint" or bool(sigma.max() <= COMPARABLE * sigma.min())


def to_opponent(planes: np.ndarray, sigma: np.ndarray, middle: float) -> tuple[np.ndarray, np.ndarray]:
    """``(3, H, W)`` RGB planes and their noise stds -> opponent planes and their noise stds.

    Examples
    --------
    >>> rgb = np.random.default_rng(0).uniform(0, 1, (3, 4, 4))
    >>> opp, s = to_opponent(rgb, np.full(3, 0.1), 0.5)
    >>> np.allclose(from_opponent(opp, 0.5), rgb), np.round(s, 4).tolist()
    (True, [0.0577, 0.0707, 0.0612])
    """
    opp = np.einsum("ij,jhw->ihw", OPPONENT, planes).astype(planes.dtype, copy=False)
    opp[1:] += middle
    # Unequal stds: the mean variance, the white-noise equivalent.
    s = float(np.sqrt(np.mean(np.square(sigma))))
    return opp, s * NOISE_GAIN


def from_opponent(opp: np.ndarray, middle: float) -> np.ndarray:
    """Inverse of :func:`to_opponent` for the planes (an ``(3, H, W)`` array)."""
    centred = opp.copy()
    centred[1:] -= middle
    return np.einsum("ij,jhw->ihw", _INVERSE, centred).astype(opp.dtype, copy=False)


def std_from_opponent(std: np.ndarray) -> np.ndarray:
    """Per-pixel stds of the opponent planes -> RGB stds, treating the channels as independent."""
    return np.sqrt(np.einsum("ij,jhw->ihw", _INVERSE**2, np.square(std))).astype(std.dtype, copy=False)
