"""The trainer's command line: ``restoration train`` and ``python -m restoration.diffusion.train_cli``
(the GPU script's entry point) share these options; the training itself is :func:`.train.train`."""

from __future__ import annotations

import argparse
import os
import sys

from .train import TrainConfig, train


def print_progress(step: int, total: int, loss: float) -> None:
    """The trainer's progress bar on stderr (the ``progress`` callback of :func:`train`)."""
    width = 30
    done = int(width * step / total)
    sys.stderr.write(f"\rtrain [{'#' * done}{'.' * (width - done)}] {step}/{total} loss {loss:.4f}")
    if step == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the ``train`` options to ``p`` (shared by ``restoration train`` and this module's command)."""
    p.add_argument("data", nargs="+", help="clean training data: files, zarr arrays, 'skimage' or 'skimage:NAME,...'")
    p.add_argument("-o", "--output", required=True, help="model file to write")
    p.add_argument("--steps", type=int, default=TrainConfig.steps)
    p.add_argument("--patch", type=int, default=TrainConfig.patch)
    p.add_argument("--batch", type=int, default=TrainConfig.batch)
    p.add_argument("--channels", type=int, default=1, help="image channels: 1 (grayscale) or 3 (RGB)")
    p.add_argument("--widths", default="32,64,128", help="U-Net channel widths per level")
    p.add_argument("--blocks", default="2,2,2", help="residual blocks per level")
    p.add_argument("--prediction", choices=["eps", "v"], default="eps")
    p.add_argument("--lr", type=float, default=TrainConfig.lr)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--synthetic", type=int, default=TrainConfig.synthetic, help="dead-leaves images to add")
    p.add_argument("--text", type=int, default=TrainConfig.text, help="rendered text and line-art images to add")
    p.add_argument("--checkpoint-every", type=int, default=TrainConfig.checkpoint_every)
    p.add_argument("--init", help="start from this model (fine-tuning), e.g. the shipped one")
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT.state")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int)
    p.add_argument("--stop-at", type=int, help="stop after this step, resumable with --resume (time-boxed sessions)")
    p.add_argument("--max-seconds", type=float,
                   help="wall-clock budget of this call: stop (resumably, checkpoint written) once it is spent")
    p.add_argument("--fit-steps", action="store_true",
                   help="with --max-seconds: at the warm-up's end, set --steps so the schedule ends within the budget")
    p.add_argument("--compile", action="store_true", help="torch.compile the network for training (pays on a GPU)")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The :class:`TrainConfig` the parsed :func:`add_arguments` options describe."""
    ints = lambda s: tuple(int(v) for v in str(s).split(","))  # noqa: E731
    return TrainConfig(sources=list(args.data), output=args.output, steps=args.steps, patch=args.patch,
                       batch=args.batch, channels=args.channels, widths=ints(args.widths),
                       blocks=ints(args.blocks), prediction=args.prediction, lr=args.lr, seed=args.seed,
                       synthetic=args.synthetic, text=args.text, checkpoint_every=args.checkpoint_every,
                       device=args.device, init=args.init, threads=args.threads, stop_at=args.stop_at,
                       max_seconds=args.max_seconds, fit_steps=args.fit_steps, compile=args.compile)


def main(argv: list[str] | None = None) -> int:
    """``python -m restoration.diffusion.train_cli``: parse ``argv``, train, print what was written; returns 0."""
    p = argparse.ArgumentParser(prog="python -m restoration.diffusion.train_cli", description=__doc__)
    add_arguments(p)
    args = p.parse_args(argv)
    prov = train(config_from_args(args), resume=args.resume, progress=print_progress)
    schedule = prov["train_config"]["steps"]
    if prov["steps"] < schedule and not args.stop_at:
        sys.stderr.write(f"\nstopped at step {prov['steps']} of {schedule} (--max-seconds): continue with --resume\n")
    print(f"wrote {args.output} ({prov['parameters']} parameters, {prov['steps']} steps, {prov['seconds']} s)")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
