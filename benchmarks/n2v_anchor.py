"""Noise2Void anchor for benchmarks/microscopy.py: CAREamics N2V on the same noisy images, time-boxed.

Run by another interpreter (CAREamics pins its own torch stack and cannot share the project's
environment); ``benchmarks/microscopy.py --n2v-python PATH`` calls it through ``subprocess``::

    python benchmarks/n2v_anchor.py --train a.npy b.npy --predict a.npy b.npy c.npy \
        --minutes 8 --out-dir DIR [--threads 1] [--seed 0]

It trains one N2V model (CAREamics defaults: 2-level U-Net, 32 filters, masked-pixel loss,
Adam with ReduceLROnPlateau on the validation loss, flips and 90-degree rotations, 8 validation
patches set aside) on the ``--train`` images stacked as ``SYX``, for ``--minutes`` of wall clock
(Lightning's ``max_time``; the epoch count is set far above what fits), then predicts every
``--predict`` image and writes ``DIR/pred_<i>.npy`` (float32, the input's units) and
``DIR/n2v.json`` (epochs and optimizer steps done, seconds of training and of prediction,
versions). The input is the raw uint16 counts as float32, as a user would pass them: CAREamics
normalizes by the training data's mean and std (and undoes it on prediction), so an offset
subtraction would change nothing.

Setup used (``train/`` is not committed; torch 2.13.0 is the CPU build, no CUDA wheels)::

    python3 -m venv train/n2v-venv
    train/n2v-venv/bin/pip install torch==2.13.0
    train/n2v-venv/bin/pip install careamics --no-deps
    train/n2v-venv/bin/pip install "bioimageio-core>=0.9,<=0.11" "lightning>=2.2,<=2.6.6,!=2.6.2,!=2.6.3" \
        "matplotlib<=3.11.2" "microssim<=0.0.5" "pydantic>=2.11,<=2.14.1" "scikit-image<=0.26" \
        "tifffile<=2026.3.3" "torchmetrics<1.9" "zarr>=3,<4" psutil pyyaml pillow "torch==2.13.0"
    train/n2v-venv/bin/pip install --no-deps torchvision==0.28.0

careamics 0.3.5 asks for ``torchvision<=0.26`` (which pins torch 2.11 and CUDA wheels); the index
has only CUDA builds of torchvision, whose C ops cannot load next to torch 2.13+cpu, and
``import torchvision`` then fails in its ``_meta_registrations``. N2V uses none of torchvision
(only CAREamics' LVAE does, for ``center_crop``, which is pure Python), so the venv's
``torchvision/__init__.py`` has that import wrapped in ``try/except (RuntimeError, OSError)``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", nargs="+", required=True, help="noisy .npy images (2-D, same shape) to train on")
    ap.add_argument("--predict", nargs="+", required=True, help=".npy images to restore with the trained model")
    ap.add_argument("--minutes", type=float, required=True, help="training wall-clock budget")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1, help="CAREamics wants a positive seed")
    ap.add_argument("--patch", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from careamics import CAREamist, __version__ as careamics_version
    from careamics.config import create_advanced_n2v_config

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train = np.stack([np.load(p).astype(np.float32) for p in args.train])
    minutes = args.minutes
    config = create_advanced_n2v_config(
        experiment_name="microscopy_n2v", data_type="array", axes="SYX", patch_size=[args.patch, args.patch],
        batch_size=args.batch, num_epochs=100000, num_workers=0, seed=args.seed,
        trainer_params={"max_time": {"seconds": round(minutes * 60)}, "enable_model_summary": False})
    careamist = CAREamist(config, work_dir=str(out / "work"), enable_progress_bar=False)
    t0 = time.time()
    careamist.train(train_data=train)
    trained = time.time() - t0
    trainer = careamist.trainer
    t0 = time.time()
    for i, p in enumerate(args.predict):
        img = np.load(p).astype(np.float32)
        predictions, _ = careamist.predict(pred_data=img, axes="YX", data_type="array")
        pred = np.asarray(predictions[0], dtype=np.float32).reshape(img.shape)
        np.save(out / f"pred_{i}.npy", pred)
    predicted = time.time() - t0
    info = {"epochs": int(trainer.current_epoch), "steps": int(trainer.global_step), "train_seconds": round(trained, 1),
            "predict_seconds": round(predicted, 1), "minutes": minutes, "patch": args.patch, "batch": args.batch,
            "threads": args.threads, "careamics": careamics_version, "torch": torch.__version__,
            "python": platform.python_version()}
    (out / "n2v.json").write_text(json.dumps(info, indent=1))
    print(json.dumps(info), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
