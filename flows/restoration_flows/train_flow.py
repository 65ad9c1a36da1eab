"""The ``train-denoiser`` flow: the core trainer with a progress artifact and run logs."""

from __future__ import annotations

from typing import Callable

from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact

from restoration.diffusion.train import TrainConfig, train
from restoration.diffusion.train_cli import print_progress


def flow_progress(description: str, every: int) -> Callable[[int, int, float], None]:
    """A trainer's progress callback inside a flow: the terminal line, a progress artifact, and a
    run log line every ``every`` steps."""
    logger = get_run_logger()
    artifact = create_progress_artifact(0.0, description=description)

    def progress(step: int, total: int, loss: float) -> None:
        print_progress(step, total, loss)
        if step % every == 0 or step == total:
            update_progress_artifact(artifact, 100.0 * step / total)
            logger.info("step %d/%d loss %.5f", step, total, loss)
    return progress


@flow(name="train-denoiser", log_prints=False)
def train_denoiser(config: dict, resume: bool = False) -> dict:
    """Train (or resume) a diffusion denoiser; ``config`` holds :class:`TrainConfig` fields."""
    cfg = TrainConfig(**{k: v for k, v in config.items() if k in TrainConfig.__dataclass_fields__})
    return train(cfg, resume=resume, progress=flow_progress(f"training {cfg.output}", 500))
