"""Self-supervised adaptation: learns from noisy data alone, resumes bit for bit, restores through
`restoration run`, deploys through `serve`, runs as the adapt-denoiser flow."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import zarr

from restoration.diffusion.adapt import AdaptConfig, adapt
from restoration.diffusion.checkpoint import load_model_file, save_model
from restoration.diffusion.model import DiffusionModel, load_model
from restoration.diffusion.unet import UNetConfig


def _psnr(x, ref, peak=1.0):
    return 10 * np.log10(peak * peak / np.mean((np.asarray(x, np.float64) - ref) ** 2))


@pytest.fixture(scope="module")
def untrained(tmp_path_factory):
    """A 2-level U-Net with seeded random weights: it has never seen an image."""
    torch.manual_seed(0)
    model = DiffusionModel(UNetConfig(channels=1, widths=(8, 16), blocks=(1, 1)))
    path = tmp_path_factory.mktemp("base") / "untrained.pt"
    save_model(path, model.net.state_dict(), model.to_config(), {"note": "seeded random weights"})
    return path


def _clean():
    from skimage import data

    return data.camera()[100:228, 150:278] / 255.0


def _cfg(tmp_path, src, out, init, steps, **kw):
    return AdaptConfig(sources=[str(src)], output=str(tmp_path / out), init=str(init), steps=steps,
                       **{"patch": 32, "batch": 8, "lr": 3e-3, "warmup": 20, "threads": 1, **kw})


@pytest.mark.parametrize("noise", ["gaussian", "poisson"])
def test_learns_to_denoise_from_noisy_data_alone(tmp_path, untrained, noise):
    """Only the noisy image is read; the clean one scores the result. The untrained network
    restores nothing (its output is the input); 200 self-supervised steps gain several dB."""
    import restoration

    clean, rng = _clean(), np.random.default_rng(1)
    peak = 1.0 if noise == "gaussian" else 10.0
    noisy = (clean + rng.normal(0, 0.1, clean.shape) if noise == "gaussian" else rng.poisson(clean * peak))
    np.save(tmp_path / "noisy.npy", noisy.astype(np.float32))
    before = restoration.denoise(noisy.astype(np.float32), model=str(untrained))
    prov = adapt(_cfg(tmp_path, tmp_path / "noisy.npy", "a.pt", untrained, 200))
    after = restoration.denoise(noisy.astype(np.float32), model=str(tmp_path / "a.pt"))
    assert _psnr(before, clean * peak, peak) < _psnr(noisy, clean * peak, peak) + 0.5
    assert _psnr(after, clean * peak, peak) > _psnr(before, clean * peak, peak) + 4.0
    # the judge kept adapted weights, which it scored below the base model's
    judged = {step: (score, margin) for step, score, margin in prov["selected"]["judged"]}
    kept = prov["selected"]["step"]
    assert kept > 0 and judged[kept][0] < judged[0][0] and judged[kept][1] > prov["selected"]["margin"]
    assert prov["adapted_on"][0]["noise"][0]["noise"] in (("gaussian",) if noise == "gaussian" else ("poisson", "poisson-gaussian"))


def test_resume_is_bit_identical_and_provenance(tmp_path, untrained):
    rng = np.random.default_rng(2)
    noisy = (_clean() + rng.normal(0, 0.1, (128, 128))).astype(np.float32)
    np.save(tmp_path / "n.npy", noisy)
    straight = adapt(_cfg(tmp_path, tmp_path / "n.npy", "a.pt", untrained, 12, checkpoint_every=5, seed=4))
    adapt(_cfg(tmp_path, tmp_path / "n.npy", "b.pt", untrained, 12, checkpoint_every=5, seed=4, stop_at=7))
    adapt(_cfg(tmp_path, tmp_path / "n.npy", "b.pt", untrained, 12, checkpoint_every=5, seed=4), resume=True)
    _, _, prov = load_model_file(tmp_path / "b.pt")
    one, two = (torch.load(tmp_path / f"{n}.pt.state", weights_only=True) for n in "ab")
    assert prov["steps"] == 12 and all(torch.equal(one[w][k], two[w][k]) for w in ("net", "ema") for k in one[w])
    assert not all(torch.equal(two["net"][k], two["ema"][k]) for k in two["ema"])   # the state holds both
    # the stop at step 7 judged one checkpoint more; every other judgement is the same
    assert [row for row in prov["selected"]["judged"] if row[0] != 7] == straight["selected"]["judged"]
    # provenance: the base, the data fingerprints and the noise found
    from restoration.io import discover, fingerprint

    assert prov["base"]["model_id"] == load_model(untrained).model_id and prov["base"]["note"] == "seeded random weights"
    assert prov["adapted_on"][0]["fingerprint"] == fingerprint(discover([str(tmp_path / "n.npy")])[0])
    assert prov["adapted_on"][0]["noise"][0]["sigma"] == pytest.approx(0.1, rel=0.1)
    assert prov["seed"] == 4 and prov["adaptation"]["loss"] == "n2n" and straight["steps"] == 12
    # other data cannot continue this state
    np.save(tmp_path / "n.npy", noisy[::-1].copy())
    from restoration.errors import InputError

    with pytest.raises(InputError, match="other data"):
        adapt(_cfg(tmp_path, tmp_path / "n.npy", "b.pt", untrained, 20, checkpoint_every=5, seed=4), resume=True)


def test_the_judge_keeps_the_base_model_when_adaptation_takes_away(tmp_path, untrained):
    """A learning rate far too high wrecks the network within 5 steps: the file holds the base
    model's weights (step 0 selected), and restores exactly as the base model does."""
    import restoration

    noisy = (_clean() + np.random.default_rng(2).normal(0, 0.1, (128, 128))).astype(np.float32)
    np.save(tmp_path / "n.npy", noisy)
    prov = adapt(_cfg(tmp_path, tmp_path / "n.npy", "w.pt", untrained, 10, checkpoint_every=5, lr=0.05, warmup=1))
    judged = {step: score for step, score, _ in prov["selected"]["judged"]}
    assert prov["steps"] == 10 and sorted(judged) == [0, 5, 10]
    assert prov["selected"]["step"] == 0 and judged[0] < min(judged[5], judged[10])
    kept, _, _ = load_model_file(tmp_path / "w.pt")
    base, _, _ = load_model_file(untrained)
    assert all(torch.equal(kept[k], base[k]) for k in base)
    np.testing.assert_array_equal(restoration.denoise(noisy, model=str(tmp_path / "w.pt")),
                                  restoration.denoise(noisy, model=str(untrained)))


def test_held_out_error_ranks_restorations_by_their_error_in_the_data_units():
    """The score is the hidden pixels' squared error (plus the noise variance, the same for every
    model) over the noise variance: the identity network scores the 4-neighbour mean's error,
    and a network that returns the clean image scores about 1."""
    from restoration.diffusion.adapt import JudgeTile, held_out_error

    class Fixed:    # a stand-in with DiffusionModel's predict
        def __init__(self, out):
            self.out, self.net = out, torch.nn.Identity()

        def predict(self, z, sigma):
            return (z if self.out is None else self.out), None

    rng = np.random.default_rng(0)
    clean = torch.from_numpy(np.tile(np.linspace(-0.5, 0.5, 64, dtype=np.float32), (64, 1)))[None, None]
    y = clean + 0.1 * torch.from_numpy(rng.standard_normal((1, 1, 64, 64)).astype(np.float32))
    tile = JudgeTile(y, torch.tensor([0.1]), torch.ones_like(y))
    assert held_out_error(Fixed(clean), [tile]) == pytest.approx(1.0, abs=0.1)
    # the 4-neighbour mean: its own noise (0.1² / 4) on top of the hidden pixel's
    assert held_out_error(Fixed(None), [tile]) == pytest.approx(1.25, abs=0.12)


def test_judge_margin_counts_only_differences_beyond_chance():
    """Two restorations equally good (errors of the same size, drawn apart) lie within chance of
    each other; one with twice the error lies many standard errors behind, and the margin is
    antisymmetric."""
    from restoration.diffusion.adapt import JudgeTile, hidden_errors, judge_margin

    class Fixed:    # a stand-in with DiffusionModel's predict
        def __init__(self, out):
            self.out, self.net = out, torch.nn.Identity()

        def predict(self, z, sigma):
            return self.out, None

    rng = np.random.default_rng(5)
    clean = torch.from_numpy(np.tile(np.linspace(-0.5, 0.5, 256, dtype=np.float32), (256, 1)))[None, None]

    def normal(scale):
        return scale * torch.from_numpy(rng.standard_normal((1, 1, 256, 256)).astype(np.float32))

    tile = JudgeTile(clean + normal(0.1), torch.tensor([0.1]), torch.ones_like(clean))
    a, b, worse = ([hidden_errors(Fixed(clean + normal(s)), tile)] for s in (0.03, 0.03, 0.06))
    assert abs(judge_margin(a, b)) < 3
    assert judge_margin(a, worse) > 10 and judge_margin(worse, a) == pytest.approx(-judge_margin(a, worse), rel=0.2)
    assert judge_margin(a, a) == 0.0


def test_time_box_stops_resumably(tmp_path, untrained):
    np.save(tmp_path / "n.npy", (_clean() + np.random.default_rng(3).normal(0, 0.1, (128, 128))).astype(np.float32))
    prov = adapt(_cfg(tmp_path, tmp_path / "n.npy", "t.pt", untrained, 10_000, max_minutes=0.05))
    assert 0 < prov["steps"] < 10_000 and (tmp_path / "t.pt.state").is_file()
    assert load_model_file(tmp_path / "t.pt")[2]["steps"] == prov["steps"]


def test_r2r_loss_trains_too(tmp_path, untrained):
    """The alternative loss (Recorrupted-to-Recorrupted), on Gaussian noise, where it holds exactly."""
    import restoration

    clean = _clean()
    noisy = (clean + np.random.default_rng(5).normal(0, 0.1, clean.shape)).astype(np.float32)
    np.save(tmp_path / "g.npy", noisy)
    adapt(_cfg(tmp_path, tmp_path / "g.npy", "r.pt", untrained, 150, loss="r2r"))
    assert _psnr(restoration.denoise(noisy, model=str(tmp_path / "r.pt")), clean) > _psnr(noisy, clean) + 3.0


def test_cli_adapt_flow_then_run_and_serve(tmp_path, untrained):
    """`restoration adapt` (the adapt-denoiser flow) writes a model that `run --model` restores with
    and that `serve --model` validates and deploys."""
    from restoration_flows.cli import build_parser, main
    from restoration_flows.serve import build_deployment

    clean = _clean()
    noisy = (clean + np.random.default_rng(6).normal(0, 0.1, clean.shape)).astype(np.float32)
    (tmp_path / "in").mkdir()
    np.save(tmp_path / "in" / "x.npy", noisy)
    model = tmp_path / "adapted.pt"
    assert main(["adapt", str(tmp_path / "in"), "-o", str(model), "--init", str(untrained), "--steps", "100",
                 "--patch", "32", "--batch", "8", "--lr", "3e-3", "--threads", "1", "--seed", "2"]) == 0
    prov = load_model_file(model)[2]
    assert prov["steps"] == 100 and prov["adapt_config"]["seed"] == 2 and prov["adapted_on"][0]["name"] == "x"
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "in" / "x.npy"), "-o", str(out), "--model", str(model)]) == 0
    from restoration.store import item_array, item_provenance

    store = zarr.open_group(str(out / "restored.zarr"), mode="r")
    assert _psnr(item_array(store, "x")[:], clean) > _psnr(noisy, clean) + 2.0
    assert item_provenance(store, "x")["identity"]["model_id"] == load_model(model).model_id
    args = build_parser().parse_args(["serve", "--watch", str(tmp_path / "in"), "-o", str(tmp_path / "nightly"),
                                      "--cron", "0 2 * * *", "--model", str(model)])
    from restoration import pipeline
    from restoration.options import RunOptions
    from restoration_flows.serve import parameters

    options = RunOptions.from_json(parameters(args)["options"]).replace(outdir=str(tmp_path / "nightly"))
    assert pipeline.validate(options).identity["model_id"] == load_model(model).model_id
    assert build_deployment(args).parameters["options"]["denoiser_options"]["model"] == str(model.resolve())


def test_cli_adapt_refuses_bad_options_before_starting(tmp_path, untrained, capsys):
    from restoration_flows.cli import main

    np.save(tmp_path / "x.npy", np.zeros((64, 64), np.float32))
    assert main(["adapt", str(tmp_path / "x.npy"), "-o", str(tmp_path / "m.pt"), "--init", str(untrained),
                 "--patch", "24"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--patch 24" in err[0] and not (tmp_path / "m.pt").exists()
