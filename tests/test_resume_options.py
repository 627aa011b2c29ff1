"""genzoo.training.resume: what a saved run fixes when it is continued, for the command line and
for Python alike."""

from __future__ import annotations

import pytest

import genzoo
from genzoo.errors import GenzooError
from genzoo.training.resume import check_same, saved_run, train_options


def test_options_given_again_must_equal_the_saved_ones():
    check_same(
        "model", {"hidden": [32, 16], "loss": "wgan"}, {"hidden": (32, 16)}
    )  # a tuple is its JSON list
    with pytest.raises(GenzooError) as err:
        check_same("model", {"hidden": [32, 16]}, {"hidden": (64,)})
    assert str(err.value).startswith("--resume: model.hidden is 32,16 in the saved run, 64 now;")


def test_the_saved_run_fixes_its_model_and_data(tmp_path):
    data = genzoo.datasets.load("moons", n=64)
    run = genzoo.train(
        genzoo.models.create("vae", data, seed=0, latent_dim=3),
        data,
        steps=2,
        seed=0,
        progress=False,
        out=tmp_path / "r",
    )
    assert run.step == 2
    train, model, cfg = saved_run(
        tmp_path / "r", "vae", data="moons", data_options={"n": 64}, model_options={"latent_dim": 3}
    )
    assert model.config.latent_dim == 3 and len(train) == len(data) and cfg["model"]["name"] == "vae"
    for kwargs, message in [
        ({"model": "gan"}, "holds a 'vae' run, not 'gan'"),
        ({"model": "vae", "data": "ring8"}, "--data is moons in the saved run, ring8 now"),
        ({"model": "vae", "data_options": {"n": 65}}, "data.n is 64 in the saved run, 65 now"),
        (
            {"model": "vae", "model_options": {"latent_dim": 4}},
            "model.latent_dim is 3 in the saved run, 4 now",
        ),
    ]:
        with pytest.raises(GenzooError, match=message):
            saved_run(tmp_path / "r", **kwargs)


def test_a_length_given_now_replaces_the_saved_length():
    saved = {"steps": None, "epochs": 3, "lr": 1e-3, "batch_size": 64}
    assert train_options(saved, {"steps": 500}) == {"steps": 500, "lr": 1e-3, "batch_size": 64}
    assert train_options(saved, {"lr": 5e-4}) == {"epochs": 3, "lr": 5e-4, "batch_size": 64}
