"""Which torch device a run uses: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``."""

from __future__ import annotations

import ctypes
import sys

from ..errors import InputError

#: The ``--device`` choices (``cuda:N`` also accepted).
DEVICES = ("auto", "cpu", "cuda")


def no_cuda_driver() -> bool:
    """Whether this Linux machine has no CUDA driver library: torch could not use a GPU either, and
    saying so then needs no torch import (seconds)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return True
    return False


def check_device(device: str) -> None:
    """Refuse a device this machine does not have (:func:`resolve_device`; ``auto`` always exists).

    Raises
    ------
    InputError
        ``--device cuda`` (or ``cuda:N``) without a CUDA device, or an unknown device name.
    """
    if device != "auto":
        resolve_device(device)


def resolve_device(device: str):
    """The ``torch.device`` ``device`` names (``auto``: CUDA when available, else the CPU).
    ``cuda`` on a machine without a CUDA driver is refused before torch is imported (seconds).

    Raises
    ------
    InputError
        ``cuda`` without a CUDA device, or an unknown device name.
    """
    if device.startswith("cuda") and no_cuda_driver():
        raise InputError(f"--device {device}: no CUDA device is available (no CUDA driver on this machine)")
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {device}: no CUDA device is available")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise InputError(f"unknown device {device!r} (valid: {', '.join(DEVICES)})")
    return torch.device(device)
