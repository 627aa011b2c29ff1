"""The stacked autoencoder: the greedy schedule, frozen lower layers, fine-tuning, exact resume."""

from __future__ import annotations

import pytest
import torch

import genzoo
from genzoo.errors import GenzooError
from genzoo.models import StepContext, create
from genzoo.models.stacked_ae import stage_bounds


@pytest.fixture(scope="module")
def digits():
    return genzoo.datasets.load("digits", split="train")


def _params(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def test_schedule_splits_greedy_steps_then_finetunes():
    assert stage_bounds(100, 3, 0.4) == [0, 20, 40, 60, 100]
    model_stages = [create("stacked-ae", genzoo.data.DataInfo("x", "points", (16,), (-1e9, 1e9)), layers=(8, 4, 2)).stage_at(s, 100) for s in range(100)]
    assert model_stages[:20] == [1] * 20 and model_stages[20:40] == [2] * 20
    assert model_stages[40:60] == [3] * 20 and model_stages[60:] == [4] * 40


def test_logged_stage_follows_the_schedule(digits):
    run = genzoo.train(create("stacked-ae", digits, seed=0, layers=(32, 16, 8)), digits, steps=50, batch_size=64, log_every=1, progress=False)
    stages = [r["stage"] for r in run.log]
    assert stages == [1.0] * 10 + [2.0] * 10 + [3.0] * 10 + [4.0] * 20
    assert "stage1_recon" in run.log[0] and "stage2_recon" in run.log[10] and "finetune_recon" in run.log[-1]


def test_each_stage_trains_only_its_own_layer(digits):
    model = create("stacked-ae", digits, seed=0, layers=(32, 16, 8))
    model.prepare(digits)
    opts = model.configure_optimizers(lambda p: torch.optim.Adam(p, lr=1e-2))
    batch = digits.batch(torch.arange(64))
    total = 100  # stages: [0, 20), [20, 40), [40, 60), fine-tuning [60, 100)
    for first, k in ((0, 1), (20, 2), (40, 3)):
        before = _params(model)
        for step in range(first, first + 3):
            model.training_step(batch, StepContext(opts, step=step, total=total))
        after = _params(model)
        for name in before:
            layer = int(name.split(".")[1]) + 1  # stages.<i>.encoder.weight → stage i + 1
            changed = not torch.equal(before[name], after[name])
            assert changed == (layer == k), (k, name)
    before = _params(model)
    model.training_step(batch, StepContext(opts, step=60, total=total))
    after = _params(model)
    assert all(not torch.equal(before[n], after[n]) for n in before)  # fine-tuning moves every layer


def test_resume_from_inside_stage_two(digits, tmp_path):
    """A run saved at step 15 (inside stage 2 of 40 steps) and resumed to 40 equals a straight run."""
    kw = dict(batch_size=64, progress=False, sample_grid=False)
    straight = genzoo.train(create("stacked-ae", digits, seed=0, layers=(32, 8)), digits, steps=40, **kw)
    out = tmp_path / "r"
    model = create("stacked-ae", digits, seed=0, layers=(32, 8))
    with pytest.raises(genzoo.errors.TrainingDiverged):
        _train_until_nan(model, digits, out, kw)
    resumed = genzoo.train(create("stacked-ae", digits, seed=0, layers=(32, 8)), digits, out=out, steps=40, resume=True, **kw)
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def _train_until_nan(model, data, out, kw):
    """Train to 40 steps with checkpoints every 15, making the loss NaN at step 17 (inside stage 2)."""
    real = model.training_step

    def step(batch, ctx):
        terms = real(batch, ctx)
        if ctx.step == 16:
            terms["loss"] = terms["loss"] * float("nan")
        return terms

    model.training_step = step
    genzoo.train(model, data, out=out, steps=40, checkpoint_every=15, **kw)


def test_bad_layers_are_refused(digits):
    for layers in ("64,80", "32,32", "70", "0"):
        with pytest.raises(GenzooError, match="model.layers"):
            create("stacked-ae", digits, layers=layers)
