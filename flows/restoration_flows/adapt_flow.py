"""The ``adapt-denoiser`` flow: self-supervised adaptation with a progress artifact and run logs."""

from __future__ import annotations

from prefect import flow, get_run_logger

from restoration.diffusion.adapt import AdaptConfig, adapt

from .train_flow import flow_progress


@flow(name="adapt-denoiser", log_prints=False)
def adapt_denoiser(config: dict, resume: bool = False) -> dict:
    """Adapt (or resume adapting) a diffusion denoiser to noisy data; ``config`` holds
    :class:`~restoration.diffusion.adapt.AdaptConfig` fields."""
    cfg = AdaptConfig(**{k: v for k, v in config.items() if k in AdaptConfig.__dataclass_fields__})
    logger = get_run_logger()
    prov = adapt(cfg, resume=resume, progress=flow_progress(f"adapting {cfg.output}", 100))
    logger.info("wrote %s: %d steps on %d inputs, %.1f s; weights of step %d (0: the base model's), judged best "
                "on the data", cfg.output, prov["steps"], len(prov["adapted_on"]), prov["seconds"], prov["selected"]["step"])
    return prov
