"""The stacked autoencoder: the greedy schedule, frozen layers below the stage in training,
exact resume across a stage boundary, the code distribution, save → load, bad configs."""

from __future__ import annotations

import pytest
import torch

import genzoo
from genzoo.errors import GenzooError
from genzoo.models import StepContext, create
from genzoo.models.stacked_ae import stage_at, stage_bounds
from genzoo.training import checkpoint as ckpt

LAYERS = (16, 8, 4)

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is fastest and steadiest


@pytest.fixture(scope="module")
def digits() -> genzoo.datasets.Dataset:
    return genzoo.datasets.load("digits", split="train").subset(torch.arange(256))


def _state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _train(data, out=None, steps=30, **kw):
    model = create("stacked-ae", data, seed=0, layers=kw.pop("layers", LAYERS))
    kw.setdefault("sample_grid", False)
    return genzoo.train(model, data, out=out, steps=steps, batch_size=32, progress=False, **kw)


# --- the schedule ------------------------------------------------------------------------------
def test_stage_bounds_split_the_greedy_steps_equally():
    assert stage_bounds(100, 3, 0.4) == [0, 20, 40, 60, 100]
    assert stage_bounds(23, 3, 0.4) == [0, 4, 9, 14, 23]  # G = round(0.6 · 23) = 14
    assert stage_bounds(10, 2, 0.0) == [0, 5, 10, 10] and stage_bounds(10, 2, 1.0) == [0, 0, 0, 10]
    for total, n_stages, f in [(100, 3, 0.4), (23, 3, 0.4), (7, 4, 0.25), (1000, 2, 0.1)]:
        stages = [stage_at(s, total, n_stages, f) for s in range(total)]
        greedy = round((1 - f) * total)
        assert stages == sorted(stages)  # stages follow each other, never come back
        assert stages.count(n_stages + 1) == total - greedy
        counts = [stages.count(k) for k in range(1, n_stages + 1)]
        assert sum(counts) == greedy and max(counts) - min(counts) <= 1
    assert stage_at(500, 100, 3, 0.4) == 4  # past the total: fine-tuning


def test_logged_stage_and_terms_follow_the_schedule(digits):
    run = _train(digits, steps=23, log_every=1)
    assert [r["step"] for r in run.log] == list(range(1, 24))
    expected = [stage_at(s, 23, 3, 0.4) for s in range(23)]
    assert [r["stage"] for r in run.log] == expected
    for rec, k in zip(run.log, expected):
        name = "finetune_recon" if k == 4 else f"stage{k}_recon"
        assert name in rec and rec["loss"] >= rec[name] - 1e-6
        others = {"stage1_recon", "stage2_recon", "stage3_recon", "finetune_recon"} - {name}
        assert not others & rec.keys()


# --- frozen layers -----------------------------------------------------------------------------
def _layer_params(model, k: int) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.stages[k - 1].named_parameters()}


def test_a_stage_trains_only_its_own_layer(digits):
    total = 100
    model = create("stacked-ae", digits, seed=0, layers=LAYERS)
    model.prepare(digits)
    opts = model.configure_optimizers(lambda params: torch.optim.Adam(params, lr=1e-2))
    assert len(opts) == len(LAYERS) + 1
    bounds = stage_bounds(total, len(LAYERS), 0.4)
    x = digits.x[:64]
    for k in range(1, len(LAYERS) + 1):
        before = {j: _layer_params(model, j) for j in range(1, len(LAYERS) + 1)}
        model.zero_grad(set_to_none=True)
        for step in range(bounds[k - 1], bounds[k - 1] + 3):
            ctx = StepContext(opts, step=step, total=total)
            assert model.training_step({"x": x}, ctx)["stage"] == k
        for j in range(1, len(LAYERS) + 1):
            after = _layer_params(model, j)
            if j == k:
                assert all(not torch.equal(before[j][n], after[n]) for n in after), (
                    f"stage {k} left layer {k} unchanged"
                )
            else:
                assert _same(before[j], after), f"stage {k} changed layer {j}"
                assert all(p.grad is None for p in model.stages[j - 1].parameters()), (
                    f"a gradient reached layer {j}"
                )
    before = {j: _layer_params(model, j) for j in range(1, len(LAYERS) + 1)}
    for step in range(bounds[-2], bounds[-2] + 3):
        assert (
            model.training_step({"x": x}, StepContext(opts, step=step, total=total))["stage"]
            == len(LAYERS) + 1
        )
    for j in range(1, len(LAYERS) + 1):
        after = _layer_params(model, j)
        assert all(not torch.equal(before[j][n], after[n]) for n in after), (
            f"fine-tuning left layer {j} unchanged"
        )


# --- resume, save → load, sampling --------------------------------------------------------------
def test_resume_across_a_stage_boundary_equals_a_straight_run(digits, tmp_path):
    """40 steps over (16, 8): stages [0, 12), [12, 24), fine-tuning [24, 40). Stopped at 16, in
    stage 2, then resumed to 40: the weights and the refitted code distribution of a straight run."""
    layers = (16, 8)
    assert stage_bounds(40, 2, 0.4) == [0, 12, 24, 40]
    straight = _train(digits, tmp_path / "s", steps=40, layers=layers, checkpoint_every=16)

    model = create("stacked-ae", digits, seed=0, layers=layers)
    real = model.training_step

    def dies_at_16(batch, ctx):
        if ctx.step == 16:
            return {"loss": torch.tensor(float("nan"))}
        return real(batch, ctx)

    model.training_step = dies_at_16
    with pytest.raises(genzoo.errors.TrainingDiverged):
        genzoo.train(
            model,
            digits,
            out=tmp_path / "r",
            steps=40,
            batch_size=32,
            progress=False,
            sample_grid=False,
            checkpoint_every=16,
        )
    assert ckpt.load_state(tmp_path / "r" / ckpt.STATE)["step"] == 16

    resumed = _train(digits, tmp_path / "r", steps=40, layers=layers, checkpoint_every=16, resume=True)
    assert resumed.step == 40
    assert _same(_state(straight.model), _state(resumed.model))
    a, b = ckpt.read_weights(tmp_path / "s" / ckpt.WEIGHTS), ckpt.read_weights(tmp_path / "r" / ckpt.WEIGHTS)
    assert _same(a, b)


@pytest.mark.parametrize("kind", ["gaussian", "gmm"])
def test_save_load_and_seeded_sampling(digits, tmp_path, kind):
    model = create("stacked-ae", digits, seed=0, layers=LAYERS, code_distribution=kind, gmm_components=3)
    run = genzoo.train(
        model, digits, out=tmp_path, steps=30, batch_size=32, progress=False, sample_grid=False
    )
    model = run.model
    loaded = genzoo.load(tmp_path)
    assert _same(_state(model), _state(loaded))
    x = digits.x[:8]
    assert torch.equal(model.encode(x), loaded.encode(x))
    assert model.encode(x).shape == (8, 4) and model.latent_shape() == (4,)
    s1 = loaded.sample(5, generator=torch.Generator().manual_seed(3))
    s2 = loaded.sample(5, generator=torch.Generator().manual_seed(3))
    s3 = loaded.sample(5, generator=torch.Generator().manual_seed(4))
    assert torch.equal(s1, s2) and not torch.equal(s1, s3) and s1.shape == (5, *digits.info.shape)
    assert 0.0 <= float(s1.min()) and float(s1.max()) <= 1.0  # sigmoid output for images in [0, 1]
    # a sample is a decoded draw of the code distribution
    draws = loaded.codes.sample(5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(s1, loaded.decode(draws))


def test_code_distribution_fits_the_final_codes(digits):
    """After training, the Gaussian over codes is the sample mean and covariance of the top codes
    of the fixed subset `refresh` uses (fit_examples of the training set, drawn with seed 0)."""
    model = create("stacked-ae", digits, seed=0, layers=LAYERS, fit_examples=100)
    model = genzoo.train(model, digits, steps=30, batch_size=32, progress=False).model
    x = digits.tensors().flatten(1)
    x = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[: model.config.fit_examples]]
    with torch.no_grad():
        codes = model.encode(x).double()
    assert torch.allclose(model.codes.means[0].double(), codes.mean(0), atol=1e-5)
    cov = model.codes.chol[0].double() @ model.codes.chol[0].double().T
    assert torch.allclose(cov, torch.cov(codes.T), atol=1e-4)


def test_reconstruction_improves_with_training(digits):
    """Against the untrained stack (whose output starts at the data mean), 400 steps at lr 1e-2
    cut the squared reconstruction error of the training digits by more than a third."""
    run = _train(digits, steps=400, layers=(32, 16), lr=1e-2, log_every=400)
    untrained = create("stacked-ae", digits, seed=0, layers=(32, 16))
    untrained.prepare(digits)
    x = digits.x
    with torch.no_grad():
        err = ((run.model.reconstruct(x) - x) ** 2).flatten(1).sum(1).mean()
        err0 = ((untrained.reconstruct(x) - x) ** 2).flatten(1).sum(1).mean()
    assert err < 0.65 * err0, (float(err), float(err0))


# --- config ------------------------------------------------------------------------------------
@pytest.mark.parametrize("layers", [(8, 16), (8, 8), (), (64,), (100, 10), "16,0"])
def test_bad_layers_are_refused(digits, layers):
    with pytest.raises(GenzooError, match="model.layers"):
        create("stacked-ae", digits, layers=layers)


def test_default_layers_follow_the_input_dimension(digits):
    assert create("stacked-ae", digits).layers == (32, 16, 8)  # D = 64
    ring = genzoo.datasets.load("ring8", split="train", n=64)
    model = create("stacked-ae", ring)
    assert model.layers == (1,) and model.output == "linear"
    with pytest.raises(GenzooError, match="model.output"):
        create("stacked-ae", ring, output="sigmoid")
    with pytest.raises(GenzooError, match="model.finetune_fraction"):
        create("stacked-ae", digits, finetune_fraction=1.5)
