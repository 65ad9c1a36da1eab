import numpy as np
import pytest
import torch

from restoration.denoisers.diffusion import DiffusionDenoiser
from restoration.diffusion.model import load_model
from restoration.diffusion.sampler import NoiseField, restore
from restoration.diffusion.tiling import TiledNetwork
from restoration.types import Observation


def _clean(h=96, w=96):
    yy, xx = np.mgrid[0:h, 0:w]
    return (0.5 + 0.35 * np.sin(yy / 7.0) * np.cos(xx / 11.0)).astype(np.float32)


def _psnr(a, b):
    return 10 * np.log10(1 / np.mean((a - b) ** 2))


@pytest.mark.parametrize("method", ["mmse", "ddim", "posterior"])
def test_methods_denoise(tiny_model, method):
    clean = _clean()
    noisy = clean + np.random.default_rng(0).normal(0, 0.1, clean.shape).astype(np.float32)
    out = DiffusionDenoiser().denoise(Observation(noisy, 0.1), rng=np.random.default_rng(0), method=method,
                                      model=str(tiny_model), steps=3)
    assert out.shape == noisy.shape and out.dtype == np.float32
    gain = _psnr(out, clean) - _psnr(noisy, clean)
    assert gain > (3.0 if method != "posterior" else 1.0), gain


def test_seeded_and_samples_give_std(tiny_model):
    clean = _clean(64, 64)
    noisy = clean + np.random.default_rng(1).normal(0, 0.1, clean.shape).astype(np.float32)
    d = DiffusionDenoiser()
    obs = Observation(noisy, 0.1)
    a = d.denoise(obs, rng=np.random.default_rng(3), method="posterior", model=str(tiny_model))
    b = d.denoise(obs, rng=np.random.default_rng(3), method="posterior", model=str(tiny_model))
    c = d.denoise(obs, rng=np.random.default_rng(4), method="posterior", model=str(tiny_model))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    mean, std = d.denoise(obs, rng=np.random.default_rng(3), samples=4, model=str(tiny_model))
    assert mean.shape == std.shape == noisy.shape
    assert 0 < float(std.mean()) < 0.1
    assert _psnr(mean, clean) > _psnr(a, clean)  # averaging samples beats one sample


def test_inpainting_fills_masked_pixels(tiny_model):
    clean = _clean()
    rng = np.random.default_rng(2)
    noisy = clean + rng.normal(0, 0.05, clean.shape).astype(np.float32)
    mask = np.zeros(clean.shape, bool)
    mask[40:46, 30:60] = True               # a hole
    mask |= rng.uniform(size=clean.shape) < 0.05  # and impulses
    corrupted = noisy.copy()
    corrupted[mask] = np.where(rng.uniform(size=mask.sum()) < 0.5, 0.0, 1.0)
    corrupted[0, 0] = np.nan
    out = DiffusionDenoiser().denoise(Observation(corrupted, 0.05, mask), rng=np.random.default_rng(0),
                                      model=str(tiny_model))
    assert np.isfinite(out).all()
    err_masked = np.abs(out[mask] - clean[mask]).mean()
    err_left = np.abs(corrupted[mask] - clean[mask]).mean()
    assert err_masked < 0.12 < err_left, (err_masked, err_left)


def test_rgb_with_grayscale_model(tiny_model):
    clean = np.stack([_clean(), _clean()[::-1], _clean()[:, ::-1]], axis=-1)
    sigma = np.array([0.05, 0.1, 0.15], dtype=np.float32)
    noisy = clean + np.random.default_rng(0).normal(0, 1, clean.shape).astype(np.float32) * sigma
    out = DiffusionDenoiser().denoise(Observation(noisy, sigma), rng=np.random.default_rng(0), model=str(tiny_model))
    assert out.shape == noisy.shape
    for c in range(3):
        assert _psnr(out[..., c], clean[..., c]) > _psnr(noisy[..., c], clean[..., c]) + 2


def test_unknown_method_rejected(tiny_model):
    net = TiledNetwork(load_model(tiny_model), torch.device("cpu"))
    with pytest.raises(ValueError, match="unknown method"):
        restore(net, torch.zeros(1, 1, 16, 16), np.array([0.1]), method="bogus", noise=NoiseField(0))


def test_noise_field_is_keyed_by_absolute_row():
    """A band of rows draws exactly the noise the whole plane draws there, draw after draw."""
    whole, band = NoiseField(7), NoiseField(7, row0=100)
    for _ in range(3):
        a, b = whole((2, 1, 300, 40)), band((2, 1, 150, 40))
        assert torch.equal(a[:, :, 100:250], b)
    assert not torch.equal(NoiseField(8)((1, 1, 64, 8)), NoiseField(7)((1, 1, 64, 8)))


def test_ensemble_views_invert_and_average(tiny_model):
    from restoration.diffusion.ensemble import VIEWS, restore_ensemble, unview, view

    t = torch.arange(2 * 3 * 5.0).reshape(1, 2, 3, 5)
    assert all(torch.equal(unview(view(t, k), k), t) for k in range(VIEWS))
    assert len({tuple(view(t, k).flatten().tolist()) for k in range(VIEWS)}) == VIEWS  # 8 distinct views
    net = TiledNetwork(load_model(tiny_model), torch.device("cpu"))
    rng = np.random.default_rng(0)
    y = torch.from_numpy(rng.normal(0, 0.2, (1, 1, 40, 56)).astype(np.float32))
    with torch.inference_mode():
        single = restore(net, y, np.array([0.2]), noise=NoiseField(0)).mean
        views = [unview(restore(net, view(y, k), np.array([0.2]), noise=NoiseField(0)).mean, k) for k in range(VIEWS)]
        ens = restore_ensemble(net, y, np.array([0.2]), noise=NoiseField(0)).mean
    assert torch.equal(views[0], single)
    assert float((ens - torch.stack(views).mean(0)).abs().max()) < 1e-5
    assert float((ens - single).abs().max()) > 1e-4   # the views really differ
