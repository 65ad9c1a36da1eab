"""Train the diffusion denoiser (core: torch, numpy and zarr only; no Prefect).

Run it directly on a GPU box with ``python -m restoration.diffusion.train_cli``; the ``restoration
train`` command and the ``train-denoiser`` flow call :func:`train` with the same arguments.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
import math
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..errors import InputError
from .checkpoint import atomic_torch_save, load_resume_state, load_training_state, resume_state_path, save_model
from .device import resolve_device
from .data import PatchSampler, load_training_images
from .model import DiffusionModel, load_model
from .unet import UNetConfig, count_parameters

# Noise levels users restore, in image units (data in [0, 1]); most training samples land here.
SIGMA_RANGE = (0.5 / 255, 110 / 255)
FOCUS_FRACTION = 0.85
SIGMA_CAP = 4.0  # model units
# Smallest training patch: below it a patch holds less than the network's receptive field.
MIN_PATCH = 16


#: A lineage level's ``training_data`` when it is the same list as the run that continued from it.
SAME_DATA = "same as the run that continued from this one"


def compact_lineage(base: dict, training_data: list[str]) -> dict:
    """A base model's provenance with each ``training_data`` list that equals the one of the run
    continuing from it replaced by :data:`SAME_DATA` (the lineage under ``base`` nests one level
    per run: a campaign resumed chunk after chunk on 1,000 pictures would carry their list once
    per chunk).

    Examples
    --------
    >>> chain = {"steps": 20, "training_data": ["a", "b"], "base": {"steps": 10, "training_data": ["a", "b"],
    ...          "base": {"steps": 5, "training_data": ["a"]}}}
    >>> compact_lineage(chain, ["a", "b"])["training_data"] == SAME_DATA
    True
    >>> compact_lineage(chain, ["a", "b"])["base"]["training_data"] == SAME_DATA
    True
    >>> compact_lineage(chain, ["a", "b"])["base"]["base"]["training_data"]
    ['a']
    """
    out = dict(base)
    data = training_data if out.get("training_data") == SAME_DATA else out.get("training_data")
    if data == training_data:
        out["training_data"] = SAME_DATA
    if isinstance(out.get("base"), dict):
        out["base"] = compact_lineage(out["base"], data)
    return out


@dataclass
class TrainConfig:
    """What :func:`train` does: the data, the network and the optimization (the CLI's flags, one to one).

    Attributes
    ----------
    sources : list of str
        Clean training data (see :func:`~restoration.diffusion.data.load_training_images`).
    output : str
        Model file to write; ``OUTPUT.state`` and ``OUTPUT.log.csv`` go next to it.
    steps, patch, batch : int
        Training steps (the learning-rate schedule's length), side of the square patches, patches per step.
    channels, widths, blocks, prediction
        The network (:class:`~restoration.diffusion.unet.UNetConfig`); with ``init`` the base
        model's is used (``channels`` must match it).
    lr, warmup, ema : float, int, float
        Peak learning rate, its linear warm-up in steps, the EMA decay of the saved weights.
    seed : int
        Seeds the data, the noise and the initial weights.
    synthetic : int
        Dead-leaves images added to the training images.
    text : int
        Images of rendered text and line art added to the training images.
    checkpoint_every : int
        Steps between checkpoints (model file and resume state).
    device : str
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    init : str, optional
        Model file to start from (fine-tuning).
    threads : int, optional
        torch CPU threads.
    stop_at : int, optional
        Stop (resumably) after this step; the schedule still spans ``steps``.
    max_seconds : float, optional
        Wall-clock budget of the call: stop (resumably) once it is spent.
    fit_steps : bool
        With ``max_seconds``: at the warm-up's end, fit ``steps`` to the time left.
    compile : bool
        ``torch.compile`` the network for the training steps.
    """

    sources: list[str]
    output: str
    steps: int = 30000
    patch: int = 64
    batch: int = 16
    channels: int = 1
    widths: tuple[int, ...] = (32, 64, 128)
    blocks: tuple[int, ...] = (2, 2, 2)
    prediction: str = "eps"
    lr: float = 1e-3
    warmup: int = 500
    ema: float = 0.999
    seed: int = 0
    synthetic: int = 64
    text: int = 0
    checkpoint_every: int = 500
    device: str = "auto"
    init: str | None = None
    threads: int | None = None
    stop_at: int | None = None   # stop (resumably) after this step; the schedule still spans `steps`
    max_seconds: float | None = None  # wall-clock budget of this call: stop (resumably) once it is spent
    fit_steps: bool = False      # with max_seconds: at the warm-up's end, fit `steps` to the time left
    compile: bool = False        # torch.compile the network for the training steps

    def to_dict(self) -> dict:
        """JSON-able form (tuples as lists), as stored in the model's provenance."""
        d = dict(self.__dict__)
        d["widths"], d["blocks"] = list(self.widths), list(self.blocks)
        return d


def check_config(cfg: TrainConfig) -> None:
    """Refuse options that cannot train, before any data is read or a step is taken.

    Parameters
    ----------
    cfg : TrainConfig
        The training run's settings; ``cfg.init`` is loaded (and so checked) when set.

    Raises
    ------
    InputError
        One line naming the option (or, for a bad ``--init`` model, the file) and the problem.
    """
    for option, value, least in (("--batch", cfg.batch, 1), ("--checkpoint-every", cfg.checkpoint_every, 1),
                                 ("--synthetic", cfg.synthetic, 0), ("--text", cfg.text, 0), ("--threads", cfg.threads, 1),
                                 ("--stop-at", cfg.stop_at, 1), ("--steps", cfg.steps, 0)):
        if value is not None and value < least:
            raise InputError(f"{option} must be >= {least}, not {value}")
    if cfg.steps == 0 and not cfg.init:  # zero steps only make sense to re-save a base model
        raise InputError("--steps must be >= 1 (0 only with --init: writes the base model as it is)")
    if not (math.isfinite(cfg.lr) and cfg.lr > 0):
        raise InputError(f"--lr must be a positive number, not {cfg.lr}")
    if cfg.max_seconds is not None and not (math.isfinite(cfg.max_seconds) and cfg.max_seconds > 0):
        raise InputError(f"--max-seconds must be a positive number, not {cfg.max_seconds}")
    if cfg.fit_steps and cfg.max_seconds is None:
        raise InputError("--fit-steps needs --max-seconds (the budget the schedule is fitted to)")
    if cfg.channels not in (1, 3):
        raise InputError("--channels must be 1 (grayscale) or 3 (RGB)")
    if not cfg.widths or len(cfg.widths) != len(cfg.blocks) or min(cfg.widths) < 1 or min(cfg.blocks) < 1:
        raise InputError("--widths and --blocks must be positive and of the same length")
    if cfg.init:
        base = load_model(cfg.init).config   # a bad file raises CheckpointError, an InputError
        if base.channels != cfg.channels:
            raise InputError(f"--channels {cfg.channels}: the --init model has {base.channels}", path=cfg.init)
        multiple = base.multiple
    else:
        multiple = 2 ** (len(cfg.widths) - 1)
    if cfg.patch < MIN_PATCH or cfg.patch % multiple:
        raise InputError(f"--patch {cfg.patch}: must be at least {MIN_PATCH} and a multiple of {multiple} "
                         "(the network's downsampling factor)")


def optimizer_step(loss: torch.Tensor, model: DiffusionModel, ema: torch.nn.Module, opt: torch.optim.Optimizer,
                   step: int, ema_decay: float) -> int:
    """One update from ``loss``: gradients clipped to norm 1, then the EMA weights follow (with a
    warm-up of the decay, so early averages are not dominated by the start). Returns the new step."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.net.parameters(), 1.0)
    opt.step()
    step += 1
    decay = min(ema_decay, (1 + step) / (10 + step))
    with torch.no_grad():
        for pe, pm in zip(ema.parameters(), model.net.parameters()):
            pe.lerp_(pm, 1 - decay)
    return step


def sample_sigmas(n: int, model: DiffusionModel, rng: np.random.Generator) -> np.ndarray:
    """Noise levels (model units) for a batch: log-uniform over the restored range, else uniform t."""
    lo, hi = (2 * s for s in SIGMA_RANGE)  # image [0, 1] -> model [-1, 1] doubles sigma
    focus = np.exp(rng.uniform(np.log(lo), np.log(hi), n))
    # The rest spreads over the chain up to sigma 4 (far past any restored level): posterior
    # sampling from t* never starts higher, and huge-sigma inputs only destabilize training.
    anywhere = model.schedule.sigma_of_t(rng.uniform(0, model.schedule.t_of_sigma(SIGMA_CAP), n))
    return np.where(rng.uniform(size=n) < FOCUS_FRACTION, focus, np.maximum(anywhere, lo))


def learning_rate(step: int, cfg: TrainConfig) -> float:
    """Learning rate at ``step``: linear warm-up over ``cfg.warmup`` steps, then cosine decay to 2 %
    of ``cfg.lr`` at ``cfg.steps`` (held there after).

    ``cfg`` is any config with ``lr``, ``warmup`` and ``steps`` (:class:`TrainConfig`, the adaptation's).
    """
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress)))


def fitted_steps(step: int, seconds_left: float, seconds_per_step: float) -> int:
    """The schedule length that ends within ``seconds_left`` at the measured speed, from ``step`` on.

    Parameters
    ----------
    step : int
        Steps done (the end of the warm-up, where the schedule does not yet depend on its length).
    seconds_left : float
        Wall-clock budget remaining.
    seconds_per_step : float
        Measured time of one step, checkpoints included.

    Returns
    -------
    int
        At least ``step``; 5 % of the time left is kept for speed changes and the last checkpoint.
    """
    return step + max(0, int(0.95 * seconds_left / seconds_per_step))


def git_commit() -> str:
    """The commit the package's checkout is at, or ``"unknown"`` (no git, not a checkout)."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, timeout=5).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def train(cfg: TrainConfig, *, resume: bool = False,
          progress: Callable[[int, int, float], None] | None = None) -> dict:
    """Train (or resume training) and write the EMA model to ``cfg.output``.

    Every ``checkpoint_every`` steps the model file and a resume state (``OUTPUT.state``: raw
    weights, optimizer, step, random generators) are written atomically; ``resume=True`` continues
    from that state bit-for-bit on the same machine and settings. A loss log goes to
    ``OUTPUT.log.csv``. Returns the provenance written into the model file.

    ``cfg.max_seconds`` stops the call (resumably, checkpoint written) after the first step that
    ends past that many seconds from its start; with ``cfg.fit_steps`` the schedule's length is set
    at the warm-up's end (before which the learning rate does not depend on it) from the speed
    measured since the call's first step, and kept in the resume state. On CUDA the steps run under
    bf16 autocast with channels-last weights and draw their noise on the device; on the CPU every
    number is what it was without these options.
    """
    clock = time.monotonic()   # before the data is read: the budget covers the whole call
    check_config(cfg)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    rng = np.random.default_rng(cfg.seed)
    torch.manual_seed(cfg.seed)
    images, described = load_training_images(cfg.sources, rng, channels=cfg.channels, synthetic=cfg.synthetic,
                                             text=cfg.text)
    sampler = PatchSampler(images, cfg.patch, rng)

    base_provenance = None
    if cfg.init:
        base = load_model(cfg.init)
        model = DiffusionModel.from_config(base.to_config())
        model.net.load_state_dict(base.net.state_dict())
        # The lineage travels with the weights.
        base_provenance = compact_lineage({"model_id": base.model_id, **base.provenance}, described)
    else:
        model = DiffusionModel(UNetConfig(channels=cfg.channels, widths=tuple(cfg.widths),
                                          blocks=tuple(cfg.blocks), prediction=cfg.prediction))
    model.to(device)
    cuda = device.type == "cuda"
    # channels_last is what cuDNN's fast bf16 kernels want; on the CPU every tensor stays as it was.
    memory_format = torch.channels_last if cuda else torch.preserve_format
    if cuda:
        model.to(memory_format=memory_format)
        torch.backends.cudnn.benchmark = True   # one patch shape: pick the fastest kernels once
    ema = copy.deepcopy(model.net).requires_grad_(False)
    net = torch.compile(model.net) if cfg.compile else model.net
    opt = torch.optim.Adam(model.net.parameters(), lr=cfg.lr, betas=(0.9, 0.99))
    step, started = 0, time.time()
    elapsed_before = 0.0
    state_path = resume_state_path(cfg.output)
    fitted = False   # whether cfg.steps is the schedule fitted to the budget (kept in the resume state)
    if resume and state_path.is_file():
        st = load_resume_state(state_path, map_location=device)
        load_training_state(st, state_path, model.net, ema, opt)
        step = int(st["step"])
        elapsed_before = float(st["elapsed"])
        rng.bit_generator.state = json.loads(st["numpy_rng"])
        torch.set_rng_state(st["torch_rng"].cpu())   # map_location moved it; the generator is the CPU's
        if cfg.fit_steps and "fitted_steps" in st:   # a fitted schedule continues as it was fitted
            cfg, fitted = dataclasses.replace(cfg, steps=int(st["fitted_steps"])), True
    log_path = Path(str(cfg.output) + ".log.csv")
    if step == 0 or not log_path.exists():
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text("step,loss,lr,seconds\n")
    # Reseeded from `rng` every step, so the resume state needs no generator of its own.
    gen = torch.Generator(device=device)

    def provenance() -> dict:
        return {"training_data": described, "steps": step, "seed": cfg.seed, "commit": git_commit(),
                "train_config": cfg.to_dict(), "parameters": count_parameters(model.net),
                "seconds": round(elapsed_before + time.time() - started, 1), "device": str(device),
                "torch": torch.__version__, "python": platform.python_version(),
                "sigma_range_image_units": list(SIGMA_RANGE), "held_out": list(_held_out()),
                **({"base": base_provenance} if base_provenance else {})}

    def checkpoint() -> None:
        save_model(cfg.output, ema.state_dict(), model.to_config(), provenance())
        atomic_torch_save({"net": model.net.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                           "step": step, "elapsed": elapsed_before + time.time() - started,
                           "numpy_rng": json.dumps(rng.bit_generator.state),
                           "torch_rng": torch.get_rng_state(),
                           **({"fitted_steps": cfg.steps} if fitted else {})}, state_path)

    losses: list[torch.Tensor] = []   # read back at logging only: no GPU wait per step for it
    model.net.train()
    first_step = step
    speed_mark: tuple[int, float] | None = None   # (step, time) after this call's first step
    end = min(cfg.steps, cfg.stop_at) if cfg.stop_at else cfg.steps
    while step < end:
        for group in opt.param_groups:
            group["lr"] = learning_rate(step, cfg)
        x0 = torch.from_numpy(sampler.batch(cfg.batch)).to(device, memory_format=memory_format) * 2 - 1
        sigma = torch.from_numpy(sample_sigmas(cfg.batch, model, rng).astype(np.float32)).to(device)
        gen.manual_seed(int(rng.integers(2**62)))
        eps = torch.randn(x0.shape, generator=gen, device=device).to(memory_format=memory_format)
        z = x0 + sigma[:, None, None, None] * eps
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            out = net(z, sigma)
        out = out.float()
        if model.config.prediction == "eps":
            target = eps
        else:
            s = sigma[:, None, None, None]
            target = (eps - s * x0) / torch.sqrt(1 + s * s)  # v = alpha eps - s_t x0
        loss = torch.mean((out - target) ** 2)
        if not torch.isfinite(loss):  # stop before the step: the weights (and checkpoints) stay finite
            raise InputError(f"--lr {cfg.lr:g}: training diverged at step {step + 1} (loss {float(loss.detach())}); "
                             "try a lower --lr")
        step = optimizer_step(loss, model, ema, opt, step, cfg.ema)
        losses.append(loss.detach())
        if cfg.fit_steps and not fitted:
            if step == first_step + 1:   # after the first step: compilation and kernel choice are done
                speed_mark = (step, time.monotonic())
            elif step == cfg.warmup and speed_mark:
                per_step = (time.monotonic() - speed_mark[1]) / (step - speed_mark[0])
                left = cfg.max_seconds - (time.monotonic() - clock)
                cfg = dataclasses.replace(cfg, steps=fitted_steps(step, left, per_step))
                end, fitted = (min(cfg.steps, cfg.stop_at) if cfg.stop_at else cfg.steps), True
        out_of_time = cfg.max_seconds is not None and time.monotonic() - clock >= cfg.max_seconds
        if step % 50 == 0 or step == end or out_of_time:
            mean_loss = float(np.mean([float(v) for v in losses]))
            with log_path.open("a") as f:
                csv.writer(f).writerow([step, f"{mean_loss:.6f}", f"{learning_rate(step - 1, cfg):.3e}",
                                        round(elapsed_before + time.time() - started, 1)])
            if progress:
                progress(step, cfg.steps, mean_loss)
            losses.clear()
        if step % cfg.checkpoint_every == 0 or step == end or out_of_time:
            checkpoint()
        if out_of_time:
            break
    if step == 0 or not Path(cfg.output).exists():
        checkpoint()
    return provenance()


def _held_out() -> tuple[str, ...]:
    from .data import HELD_OUT
    return HELD_OUT
