"""The ``adapt-denoiser`` flow: self-supervised adaptation with a progress artifact and run logs."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact

from restoration.diffusion.adapt import AdaptConfig, adapt
from restoration.diffusion.train import _print_progress


@flow(name="adapt-denoiser", log_prints=False)
def adapt_denoiser(config: dict, resume: bool = False) -> dict:
    """Adapt (or resume adapting) a diffusion denoiser to noisy data; ``config`` holds
    :class:`~restoration.diffusion.adapt.AdaptConfig` fields."""
    cfg = AdaptConfig(**{k: v for k, v in config.items() if k in AdaptConfig.__dataclass_fields__})
    logger = get_run_logger()
    artifact = create_progress_artifact(0.0, description=f"adapting {cfg.output}")

    def progress(step: int, total: int, loss: float) -> None:
        _print_progress(step, total, loss)
        if step % 100 == 0 or step == total:
            update_progress_artifact(artifact, 100.0 * step / total)
            logger.info("step %d/%d loss %.5f", step, total, loss)

    prov = adapt(cfg, resume=resume, progress=progress)
    logger.info("wrote %s: %d steps on %d inputs, %.1f s", cfg.output, prov["steps"], len(prov["adapted_on"]),
                prov["seconds"])
    return prov
