import numpy as np
import torch

from restoration.diffusion.model import load_model
from restoration.diffusion.sampler import NoiseField, restore
from restoration.diffusion.tiling import TiledNetwork, receptive_radius


def _plane(h=150, w=190, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    clean = 0.5 + 0.4 * np.sin(yy / 9.0) * np.cos(xx / 13.0)
    return torch.from_numpy((2 * clean - 1 + 2 * 0.1 * rng.normal(size=(h, w))).astype(np.float32))[None, None]


def test_receptive_radius_is_finite_and_margin_covers_it(tiny_model):
    model = load_model(tiny_model)
    r = receptive_radius(model)
    assert 4 < r < 64
    net = TiledNetwork(model, torch.device("cpu"), tile=32)
    assert net.margin >= r and net.margin % model.config.multiple == 0


def test_tiled_mmse_equals_whole(tiny_model):
    model = load_model(tiny_model)
    y = _plane()
    sigma = np.array([0.2])
    whole = TiledNetwork(model, torch.device("cpu"), tile=1024)
    tiled = TiledNetwork(model, torch.device("cpu"), tile=32, batch=3)
    assert len(tiled._windows(y.shape[-1])) > 3  # really tiled
    with torch.inference_mode():
        a = restore(whole, y, sigma, noise=NoiseField(0)).mean
        b = restore(tiled, y, sigma, noise=NoiseField(0)).mean
    assert float((a - b).abs().max()) < 1e-4


def test_tiled_ddim_and_posterior_equal_whole(tiny_model):
    model = load_model(tiny_model)
    y = _plane(100, 120, seed=1)
    sigma = np.array([0.3])
    whole = TiledNetwork(model, torch.device("cpu"), tile=1024)
    tiled = TiledNetwork(model, torch.device("cpu"), tile=32, batch=2)
    with torch.inference_mode():
        for method in ("ddim", "posterior"):
            a = restore(whole, y, sigma, method=method, steps=4, noise=NoiseField(5)).mean
            b = restore(tiled, y, sigma, method=method, steps=4, noise=NoiseField(5)).mean
            assert float((a - b).abs().max()) < 1e-3, method


def test_windows_partition_the_plane_with_full_context(tiny_model):
    net = TiledNetwork(load_model(tiny_model), torch.device("cpu"), tile=64)
    m, margin = net.multiple, net.margin
    for size in range(m, 1200, m):
        windows = net._windows(size)
        cores = [(c0, c1) for _, _, c0, c1 in windows]
        assert cores[0][0] == 0 and cores[-1][1] == size
        assert all(a[1] == b[0] for a, b in zip(cores, cores[1:]))           # a partition
        for w0, w1, c0, c1 in windows:
            assert w0 % m == 0 and (w0 == 0 or c0 - w0 >= margin) and (w1 == size or w1 - c1 >= margin)
        if size <= 64 + 2 * margin:
            assert len(windows) == 1
        else:   # equal cores: no more windows than tiles of `tile`, none mostly idle
            assert len(windows) == -(-size // 64)
            assert len({w1 - w0 for w0, w1, _, _ in windows}) == 1
