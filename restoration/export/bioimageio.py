"""Export a diffusion model as a BioImage Model Zoo package (bioimage.io model description 0.5).

The package runs the project's ``mmse`` method (one network call: Tweedie's estimate E[x_0 | y])
at a noise level fixed at export. The zoo's consumers (deepImageJ, ilastik, bioimageio.core) feed
a model image tensors only, so the level is a constant of the exported network rather than a
second input. The input is normalized the way the project's default ``percentile`` transform does
it, declared as ``scale_range`` preprocessing so that the consumer applies it.

bioimageio.spec is an optional dependency (the ``bioimageio`` extra); torch and it load only when
a package is written.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import math
import os
import re
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..diffusion.files import model_file
from ..errors import InputError

__all__ = ["DEFAULT_SIGMA", "architecture_source", "export_bioimageio"]

#: Noise std fixed at export, in the normalized image units (see :func:`export_bioimageio`).
DEFAULT_SIGMA = 0.1
#: The project's default ``percentile`` transform: these percentiles of the image map to 0 and 1.
PERCENTILES = (0.1, 99.9)
#: ``scale_range``'s default epsilon: ``(x - lo) / (hi - lo + EPS)``.
EPS = 1e-6
DEFAULT_AUTHORS = ("restoration maintainers",)
COVER_SIZE = 256
ARCHITECTURE = "FixedSigmaDenoiser"

CITATIONS = (
    ("Ho J, Jain A, Abbeel P. Denoising Diffusion Probabilistic Models. NeurIPS 2020 (the model and its "
     "noise schedule)", "10.48550/arXiv.2006.11239"),
    ("Efron B. Tweedie's formula and selection bias. Journal of the American Statistical Association "
     "106:1602-1614, 2011 (the one-step MMSE estimate E[x_0 | y] from the noise-conditioned network's "
     "noise prediction, at the time whose noise level is the observation's)", "10.1198/jasa.2011.tm11181"),
)


def _body(source: str, imported: set[str]) -> str:
    """``source`` without its docstring, its ``__future__`` import, its imports from this package and
    the imports in ``imported`` (which gets its other imports)."""
    tree = ast.parse(source)
    drop = set()
    for i, node in enumerate(tree.body):
        docstring = i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        local = isinstance(node, ast.ImportFrom) and (node.level > 0 or node.module == "__future__")
        if isinstance(node, (ast.Import, ast.ImportFrom)) and not local:
            local = ast.unparse(node) in imported
            imported.add(ast.unparse(node))
        if docstring or local:
            drop.update(range(node.lineno - 1, node.end_lineno))
    return "".join(line for k, line in enumerate(source.splitlines(keepends=True)) if k not in drop)


def architecture_source() -> str:
    """The package's architecture file: one module that needs torch only.

    It is written from this project's sources at export, so that the packaged network cannot
    drift from the one the weights were trained in: :mod:`restoration.diffusion.unet`, the noise
    embedding it imports and :class:`restoration.export.network.FixedSigmaDenoiser`.

    Returns
    -------
    str
        Python source defining ``FixedSigmaDenoiser(sigma, unet)``.
    """
    from ..diffusion import schedule, unet
    from . import network

    imported = {"import math"}  # sigma_embedding's, its module is not copied
    parts = [_body(inspect.getsource(unet), imported), inspect.getsource(schedule.sigma_embedding),
             _body(inspect.getsource(network), imported)]
    header = (f'"""{ARCHITECTURE}: a restoration diffusion U-Net as a one-step MMSE denoiser at a fixed noise '
              'level.\n\nWritten by restoration\'s BioImage Model Zoo export from restoration/diffusion/unet.py,\n'
              'restoration.diffusion.schedule.sigma_embedding and restoration/export/network.py.\n"""\n\n'
              'from __future__ import annotations\n\nimport math\n')
    return header + "\n\n".join(re.sub(r"\n{3,}", "\n\n\n", p).strip("\n") + "\n" for p in parts)


def _device_independent(traced) -> None:
    """Replace the devices a trace recorded (``torch.linspace(..., device=cpu)``) by the input's.

    The tracer writes the device every factory call saw as a constant: without this, the
    TorchScript weights would fail on any device but the one they were traced on.
    """
    def modules(mod):
        yield mod
        for child in mod.children():
            yield from modules(child)

    for mod in modules(traced):
        if not mod._c._has_method("forward"):  # containers (ModuleList) have no graph
            continue
        graph = mod.graph
        for node in list(graph.nodes()):
            if node.kind() == "prim::Constant" and node.output().type().kind() == "DeviceObjType":
                tensor = next(v for v in graph.inputs() if v.type().kind() == "TensorType")
                device = graph.create("prim::device", [tensor])
                device.output().setType(node.output().type())
                device.insertBefore(node)
                node.output().replaceAllUsesWith(device.output())
                node.destroy()


def _normalize(x: np.ndarray) -> np.ndarray:
    """``scale_range`` as declared in the package: per image, jointly over channels and space."""
    lo, hi = np.percentile(x, PERCENTILES, axis=tuple(range(1, x.ndim)), keepdims=True)
    return ((x - lo) / (hi - lo + EPS)).astype(np.float32)


def _noisy_sample(size: int, channels: int, sigma: float, seed: int) -> np.ndarray:
    """(1, channels, size, size) float32: crops of scikit-image's ``camera`` (held out from the shipped
    model's training) with Gaussian noise whose std is ``sigma`` after :func:`_normalize`."""
    from skimage import data

    image = data.camera() / 255.0
    top = (image.shape[0] - size) // 2
    clean = np.stack([image[top + 8 * c: top + 8 * c + size, top: top + size] for c in range(channels)])[None]
    noise = np.random.default_rng(seed).standard_normal(clean.shape)
    k = sigma
    for _ in range(8):  # the normalization's range includes the noise: a fixed point, found in a few steps
        lo, hi = np.percentile(clean + k * noise, PERCENTILES)
        k = sigma * (hi - lo + EPS)
    return (clean + k * noise).astype(np.float32)


def _cover(noisy: np.ndarray, restored: np.ndarray, path: Path) -> None:
    """Noisy (normalized) and restored first channel side by side, as a PNG."""
    from PIL import Image

    pair = np.concatenate([_normalize(noisy)[0, 0], restored[0, 0]], axis=1)
    Image.fromarray(np.round(np.clip(pair, 0.0, 1.0) * 255).astype(np.uint8)).save(path)


def _readme(*, name: str, sigma: float, model, provenance: dict, min_size: int, step: int, halo: int) -> str:
    """The package's README.md: what the network does, its units, tiling, validation and limits."""
    channels = model.config.channels
    lo, hi = PERCENTILES
    levels = provenance.get("sigma_range_image_units")
    trained_range = (f" The model was trained mostly on sigma {levels[0]:.3g} to {levels[1]:.3g} in these units."
                     if levels else "")
    predicts = "the noise" if model.config.prediction == "eps" else "v (noise and image mixed)"
    return f"""# {name}

Gaussian denoiser for {channels}-channel 2D images: the one-step MMSE estimate of a DDPM
(denoising diffusion probabilistic model) with a noise-level conditioned U-Net, exported from the
restoration project's model file `{model.model_id}` with the noise level fixed at
**sigma = {sigma:g}** (normalized units, below). The U-Net (widths
{'-'.join(map(str, model.config.widths))}, {sum(p.numel() for p in model.parameters()):,} parameters) sees the noisy
image and its noise level and predicts {predicts}; the restored image is Tweedie's estimate
E[x_0 | y] (the project's `--method mmse`). The model file's provenance (training data and
configuration, and those of the runs it was fine-tuned from) is the package's `provenance.json`.

## Input and normalization

One tensor `input`, axes (batch, channel, y, x), float32, {channels} channel{"s" if channels > 1 else ""}; y and x are
{min_size} + {step} n pixels (multiples of the U-Net's downsampling factor {step}; pad smaller images).

Preprocessing, declared as `scale_range` (the consumer software applies it): per image, jointly over
channels and space, the {lo} and {hi} percentiles map to 0 and 1,
`x_norm = (x - p{lo}) / (p{hi} - p{lo} + {EPS:g})`: the project's default `percentile` transform.

## Noise level

The network removes Gaussian noise of std **{sigma:g} in these normalized units**, i.e. a raw
noise std of `{sigma:g} * (p{hi} - p{lo})` in the image's own units. For data with another noise
level, export again with `restoration export MODEL.pt --format bioimageio -o PACKAGE.zip --sigma S`
where `S = raw noise std / (p{hi} - p{lo})`; `restoration characterize IMAGE` estimates the raw
std. A sigma below the actual noise leaves noise, one above it smooths detail away.{trained_range}

## Output

One tensor `output` of the input's shape, **in the normalized units** (it is not scaled back:
multiply by `p{hi} - p{lo}` of the input and add `p{lo}` for the input's units).

The output axes declare a halo of {halo} pixels, the network's receptive radius rounded up to the
downsampling factor: a consumer that processes an image in tiles overlaps them by it and discards
that margin, and the tiles then give the network's whole-image values at every pixel farther than
the halo from the image border (no layer takes statistics over space). bioimageio.core also
mirrors the image by the halo at its border before normalizing it, so its percentiles, and the
pixels near the border, differ slightly from those of an unpadded image.

## Weights

- `pytorch_state_dict`: `weights.pt`, the state dict of `{ARCHITECTURE}` in
  `restoration_denoiser.py` (self-contained, needs torch only; written from the project's U-Net source).
- `torchscript`: `weights_torchscript.pt`, the same network traced (any device, any batch and size).

## Validation

`test_input.npy` is a {min_size}x{min_size} crop of scikit-image's `camera` image (held out from the
shipped model's training) with Gaussian noise of std {sigma:g} in normalized units; `test_output.npy`
is what the exported network made of it, and `bioimageio.core.test_model` reproduces it from
both weight formats. `cover.png` shows a {COVER_SIZE}x{COVER_SIZE} crop, noisy (normalized) and restored;
`sample_input.tif` and `sample_output.tif` are that crop's tensors.
The denoising quality of the project's shipped model (PSNR and SSIM against BM3D on held-out
images, for Gaussian and Poisson noise) is measured in its `restoration/models/MODEL_CARD.md`.

## Limitations

- Additive Gaussian noise of one known level, the same over the image. Poisson or camera noise
  needs a variance-stabilizing transform first (the project's `restoration run` does it), and
  the noise must be white (uncorrelated between pixels).
- 2D only; channels as the model has them (a grayscale model restores one channel: restore the
  channels of other images one by one). The project's joint colour restoration, inpainting of
  masked pixels, multi-step sampling and posterior samples are not part of the package.
- Images unlike the model's training data (`provenance.json`) may be restored less well: check on
  your own data. The project's shipped model was trained on photographs and synthetic images, not
  microscopy; `restoration adapt` fine-tunes a model on noisy data of your own.

## Citation

{chr(10).join(f"- {text}. doi:{doi}" for text, doi in CITATIONS)}

Licence: BSD-3-Clause (the restoration project's).
"""


def export_bioimageio(model_path: str | os.PathLike | None, output: str | os.PathLike, *,
                      sigma: float = DEFAULT_SIGMA, authors: Sequence[str] = DEFAULT_AUTHORS) -> Path:
    """Write a diffusion model as a BioImage Model Zoo package (bioimage.io model 0.5, a zip).

    The packaged network is the model's one-step MMSE denoiser (the ``mmse`` method) at the noise
    level ``sigma``, with weights as ``pytorch_state_dict`` (and a self-contained architecture
    file) and ``torchscript``, test tensors made by running it, a cover, a README, citations and
    the model file's provenance. Every mistake in the arguments is found before the slow work,
    and those that do not need the model file before torch loads.

    Parameters
    ----------
    model_path : str or os.PathLike or None
        A restoration model file (None: the shipped model).
    output : str or os.PathLike
        The package to write, ``.zip``; replaced if it exists.
    sigma : float
        Gaussian noise std the package removes, in the units of its declared input normalization:
        the image's 0.1 and 99.9 percentiles at 0 and 1 (the project's default ``percentile``
        transform).
    authors : sequence of str
        Names for the description's authors.

    Returns
    -------
    pathlib.Path
        ``output``.

    Raises
    ------
    InputError
        No such model file, not a usable model file, ``output`` not a ``.zip`` path or not
        writable, ``sigma`` not positive or outside the model's schedule, no authors, or
        bioimageio.spec missing (the ``bioimageio`` extra).
    """
    path = model_file(model_path)
    output = Path(output)
    if output.suffix.lower() != ".zip" or output.is_dir():
        raise InputError("the package must be a .zip file", path=str(output))
    if not (math.isfinite(sigma) and sigma > 0):
        raise InputError(f"sigma must be a positive number, not {sigma}")
    if not authors or not all(isinstance(a, str) and a.strip() and "/" not in a for a in authors):
        raise InputError("authors must be names, without '/'")
    try:
        found = importlib.util.find_spec("bioimageio.spec") is not None
    except ModuleNotFoundError:  # no bioimageio namespace at all
        found = False
    if not found:
        raise InputError("bioimageio export needs bioimageio.spec: pip install 'restoration[bioimageio]'")

    from ..diffusion.model import load_model
    from ..diffusion.sampler import MIN_SIGMA

    model = load_model(path)
    low, high = MIN_SIGMA / 2, model.schedule.sigma_max / 2  # image units are half the model's
    if not low <= sigma <= high:
        raise InputError(f"sigma must be {low:g} to {high:.4g} for this model, not {sigma:g}")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create its folder ({exc.strerror or exc})", path=str(output)) from None
    if not os.access(output.parent, os.W_OK):
        raise InputError("its folder is not writable", path=str(output))
    with tempfile.TemporaryDirectory(prefix="restoration-bioimageio-") as tmp:
        descr = _describe(model, path, Path(tmp), sigma=float(sigma), authors=list(authors))
        _package(descr, output)
    return output


def _describe(model, path: Path, folder: Path, *, sigma: float, authors: list[str]):
    """The model description, its files written into ``folder``."""
    import tifffile
    import torch
    from bioimageio.spec.model import v0_5 as bio

    from .. import __version__
    from ..diffusion.tiling import receptive_radius
    from .network import FixedSigmaDenoiser

    network = FixedSigmaDenoiser(sigma, model.config.to_dict())
    network.net.load_state_dict(model.net.state_dict())
    network.eval().requires_grad_(False)
    step = model.config.multiple
    halo = -(-receptive_radius(model) // step) * step  # whole steps: tiles keep the downsampling grid
    min_size = 2 * halo + step                         # the least a tile can be with that halo cropped
    channels = model.config.channels

    def run(noisy: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return network(torch.from_numpy(_normalize(noisy))).numpy()

    files = {name: folder / name for name in ("weights.pt", "weights_torchscript.pt", "restoration_denoiser.py",
                                              "test_input.npy", "test_output.npy", "sample_input.tif",
                                              "sample_output.tif", "cover.png", "README.md", "provenance.json")}
    test_input = _noisy_sample(min_size, channels, sigma, seed=0)
    np.save(files["test_input.npy"], test_input)
    np.save(files["test_output.npy"], run(test_input))
    cover = _noisy_sample(max(COVER_SIZE, min_size), channels, sigma, seed=1)
    restored = run(cover)
    _cover(cover, restored, files["cover.png"])
    tifffile.imwrite(files["sample_input.tif"], cover[0])
    tifffile.imwrite(files["sample_output.tif"], restored[0])
    torch.save(network.state_dict(), files["weights.pt"])
    with warnings.catch_warnings(), torch.no_grad():  # no_grad: the U-Net's in-place inference path
        # unet.py's `sigma.numel() == 1` is recorded for batch 1: an expand to the batch, right for any batch
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)  # torch's, of TorchScript: what the zoo's consumers run
        traced = torch.jit.trace(network, torch.from_numpy(_normalize(test_input)))
        _device_independent(traced)
        torch.jit.save(traced, files["weights_torchscript.pt"])
    files["restoration_denoiser.py"].write_text(architecture_source(), encoding="utf-8")
    files["provenance.json"].write_text(json.dumps(model.provenance, indent=1, sort_keys=True), encoding="utf-8")
    name = f"Restoration diffusion denoiser ({re.sub(r'[^A-Za-z0-9_+ -]', '-', path.stem)[:60]})"
    files["README.md"].write_text(_readme(name=name, sigma=sigma, model=model, provenance=model.provenance,
                                          min_size=min_size, step=step, halo=halo),
                                  encoding="utf-8")

    channel = bio.ChannelAxis(channel_names=[bio.Identifier(f"channel{c}") for c in range(channels)])
    space = [bio.SpaceInputAxis(id=bio.AxisId(a), size=bio.ParameterizedSize(min=min_size, step=step))
             for a in ("y", "x")]
    normalization = bio.ScaleRangeDescr(kwargs=bio.ScaleRangeKwargs(
        axes=[bio.AxisId(a) for a in ("channel", "y", "x")], min_percentile=PERCENTILES[0],
        max_percentile=PERCENTILES[1], eps=EPS))
    inputs = bio.InputTensorDescr(
        id=bio.TensorId("input"), axes=[bio.BatchAxis(), channel, *space],
        description=f"noisy image, Gaussian noise std {sigma:g} after the scale_range normalization",
        test_tensor=bio.FileDescr(source=files["test_input.npy"]),
        sample_tensor=bio.FileDescr(source=files["sample_input.tif"]), preprocessing=[normalization])
    same = [bio.SpaceOutputAxisWithHalo(id=bio.AxisId(a), halo=halo,
                                        size=bio.SizeReference(tensor_id=bio.TensorId("input"), axis_id=bio.AxisId(a)))
            for a in ("y", "x")]
    outputs = bio.OutputTensorDescr(
        id=bio.TensorId("output"), description="restored image, in the normalized units",
        axes=[bio.BatchAxis(), channel, *same],
        test_tensor=bio.FileDescr(source=files["test_output.npy"]),
        sample_tensor=bio.FileDescr(source=files["sample_output.tif"]))
    torch_version = bio.Version(torch.__version__.split("+")[0])
    weights = bio.WeightsDescr(
        pytorch_state_dict=bio.PytorchStateDictWeightsDescr(
            source=files["weights.pt"], pytorch_version=torch_version,
            architecture=bio.ArchitectureFromFileDescr(
                source=files["restoration_denoiser.py"], callable=bio.Identifier(ARCHITECTURE),
                kwargs={"sigma": sigma, "unet": model.config.to_dict()})),
        torchscript=bio.TorchscriptWeightsDescr(
            source=files["weights_torchscript.pt"], pytorch_version=torch_version, parent="pytorch_state_dict",
            comment="traced from pytorch_state_dict; its recorded devices replaced by the input's"))

    return bio.ModelDescr(
        name=name,
        description=(f"Gaussian denoiser: the one-step MMSE (Tweedie) estimate of a DDPM noise-conditioned U-Net, "
                     f"noise std fixed at {sigma:g} of the image's 0.1-99.9 percentile range"),
        authors=[bio.Author(name=a) for a in authors],
        cite=[bio.CiteEntry(text=text, doi=bio.Doi(doi)) for text, doi in CITATIONS],
        license=bio.LicenseId("BSD-3-Clause"),
        documentation=bio.FileDescr(source=files["README.md"]),
        covers=[bio.FileDescr(source=files["cover.png"])],
        attachments=[bio.FileDescr(source=files["provenance.json"])],
        tags=["denoising", "image-restoration", "diffusion-model", "ddpm", "2d", "pytorch"],
        inputs=[inputs], outputs=[outputs], weights=weights,
        config={"restoration": {"version": __version__, "model_id": model.model_id, "sigma": sigma,
                                "sigma_units": "noise std after the input's scale_range normalization",
                                "method": "mmse", "model_config": model.to_config()}},
    )


def _package(descr, output: Path) -> None:
    """Write ``descr``'s package next to ``output`` and move it into place: never half a file."""
    from bioimageio.spec import save_bioimageio_package

    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".zip")
    os.close(fd)
    try:
        # The description is the package's rdf.yaml, the name every consumer reads; it validates the package.
        save_bioimageio_package(descr, output_path=Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a package is for everyone to read
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
