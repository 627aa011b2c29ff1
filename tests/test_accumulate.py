"""train.accumulate: a batch split into parts whose gradients add up before one update gives the
update of the whole batch — checked on a deterministic model against the undivided batch (equal to
float rounding, as the data-parallel runs are checked), with equal and unequal parts."""

from __future__ import annotations

import pytest
import torch

import genzoo
from genzoo.errors import GenzooError


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _train(data, accumulate: int, steps: int = 6, **options):
    model = genzoo.models.create("ae", data, seed=0, hidden=(32,))
    run = genzoo.train(
        model,
        data,
        steps=steps,
        batch_size=30,
        accumulate=accumulate,
        progress=False,
        sample_grid=False,
        threads=1,
        log_every=1,
        **options,
    )
    return _weights(run.model), [r["loss"] for r in run.log]


@pytest.mark.parametrize("parts", [2, 3, 4])  # 4 parts of 30: 8, 8, 7, 7 examples
def test_accumulated_parts_give_the_update_of_the_whole_batch(parts):
    data = genzoo.datasets.load("digits", split="train")
    whole, whole_losses = _train(data, 1)
    split, split_losses = _train(data, parts)
    for k in whole:
        assert torch.allclose(whole[k], split[k], atol=1e-6, rtol=1e-5), k
    assert split_losses == pytest.approx(whole_losses, rel=1e-5)
    moved = genzoo.models.create("ae", data, seed=0, hidden=(32,)).state_dict()
    assert any(not torch.equal(moved[k], whole[k]) for k in whole)  # training did change the weights


def test_gradient_clipping_sees_the_whole_batch_gradient():
    data = genzoo.datasets.load("digits", split="train")
    whole, _ = _train(data, 1, grad_clip=0.05)
    split, _ = _train(data, 3, grad_clip=0.05)
    for k in whole:
        assert torch.allclose(whole[k], split[k], atol=1e-6, rtol=1e-5), k


def test_models_with_several_updates_are_refused_in_one_line(monkeypatch):
    ring = genzoo.datasets.load("ring8", split="train")
    for name in ("gan", "rbm"):
        data = genzoo.datasets.load("mnist", split="train", binarize="static") if name == "rbm" else ring
        model = genzoo.models.create(name, data, seed=0)
        with pytest.raises(GenzooError, match=rf"train.accumulate=2: {name} takes several updates") as err:
            genzoo.train(model, data, steps=1, accumulate=2, progress=False, sample_grid=False)
        assert "\n" not in str(err.value)
    model = genzoo.models.create("ae", ring, seed=0)
    with pytest.raises(GenzooError, match=r"train.accumulate=64 is more than train.batch_size=32"):
        genzoo.train(model, ring, steps=1, batch_size=32, accumulate=64, progress=False, sample_grid=False)
    step = type(model).training_step

    def twice(self, batch, ctx):  # a model that says it accumulates but updates twice
        step(self, batch, ctx)
        return step(self, batch, ctx)

    monkeypatch.setattr(type(model), "training_step", twice)
    with pytest.raises(GenzooError, match=r"accumulation needs one"):
        genzoo.train(model, ring, steps=1, accumulate=2, progress=False, sample_grid=False)
