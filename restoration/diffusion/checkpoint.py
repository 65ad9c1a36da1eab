"""Model files: state dict + JSON config + JSON provenance, loaded with ``weights_only=True`` only."""

from __future__ import annotations

import json
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from .files import CheckpointError

FORMAT = "restoration-diffusion/1"


def nonfinite_tensor(state_dict: dict) -> str | None:
    """The name of the first floating-point tensor of ``state_dict`` holding NaN or infinity, or None."""
    return next((k for k, v in state_dict.items() if v.is_floating_point() and not torch.isfinite(v).all()), None)


def atomic_torch_save(obj: dict, path: str | os.PathLike) -> None:
    """Write ``obj`` next to ``path`` and rename it into place, so a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a model file is for everyone to read
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_model(path: str | os.PathLike, state_dict: dict, config: dict, provenance: dict) -> None:
    """Write a model file atomically; refuse weights that are not finite (they restore to NaN)."""
    bad = nonfinite_tensor(state_dict)
    if bad is not None:
        raise CheckpointError(f"{path}: not written, the weights are not finite (NaN or infinity in {bad})")
    atomic_torch_save({"format": FORMAT, "config": json.dumps(config, sort_keys=True),
                       "provenance": json.dumps(provenance, sort_keys=True),
                       "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()}}, path)


def _reason(exc: Exception) -> str:
    """The first line of a torch load error, without its terminal colours, at most 160 characters."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return re.sub(r"\x1b\[[0-9;]*m", "", reason)[:160]


def load_model_file(path: str | os.PathLike) -> tuple[dict, dict, dict]:
    """Return ``(state_dict, config, provenance)``; raise :class:`CheckpointError` on a bad file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: model file not found")
    try:
        with warnings.catch_warnings():  # a foreign pickle's protocol warning is not for the console
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or unsafe pickles
        raise CheckpointError(f"{path}: not a readable model file ({_reason(exc)})") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a restoration diffusion model (expected format {FORMAT!r})")
    try:
        config = json.loads(obj["config"])
        provenance = json.loads(obj["provenance"])
        state = obj["state_dict"]
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: model file is missing or has corrupt {exc}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: model file has no valid state dict")
    bad = nonfinite_tensor(state)
    if bad is not None:
        raise CheckpointError(f"{path}: model weights are not finite (NaN or infinity in {bad})")
    return state, config, provenance


#: What every resume state of train and adapt holds.
RESUME_KEYS = ("net", "ema", "opt", "step", "elapsed", "numpy_rng")


def resume_state_path(output: str | os.PathLike) -> Path:
    """The resume state next to model file ``output``: ``OUTPUT.state``."""
    return Path(str(output) + ".state")


def load_resume_state(path: str | os.PathLike, map_location: Any = "cpu") -> dict:
    """A resume state written by train or adapt (:data:`RESUME_KEYS`), loaded weights-only.

    Raises
    ------
    InputError
        Naming the file: unreadable, not a state of ours, or missing what resuming needs.
    """
    from ..errors import InputError

    again = "start again without --resume"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt, foreign or unsafe pickles
        raise InputError(f"not a resume state of restoration ({_reason(exc)}); {again}", path=str(path)) from None
    missing = [k for k in RESUME_KEYS if k not in state] if isinstance(state, dict) else list(RESUME_KEYS)
    if missing:
        raise InputError(f"not a resume state of restoration (no {', '.join(missing)}); {again}", path=str(path))
    return state


def load_training_state(state: dict, path: str | os.PathLike, net: torch.nn.Module, ema: torch.nn.Module,
                        opt: torch.optim.Optimizer) -> None:
    """Load a resume state's raw weights, EMA weights and optimizer (read from ``path``) into
    ``net``, ``ema`` and ``opt``.

    Raises
    ------
    InputError
        Naming ``path``, when the state was made for another network.
    """
    from ..errors import InputError

    try:
        net.load_state_dict(state["net"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
    except (RuntimeError, ValueError, KeyError, TypeError):  # another network's weights
        raise InputError("was made for another network (its widths, blocks or channels); start again without "
                         "--resume", path=str(path)) from None


def check_resume_state(output: str | os.PathLike) -> None:
    """Refuse, before any work, a resume state next to ``output`` that cannot be resumed
    (:func:`load_resume_state`); no state is no error (the run starts at step 0)."""
    path = resume_state_path(output)
    if path.is_file():
        load_resume_state(path)
