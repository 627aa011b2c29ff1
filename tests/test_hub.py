"""Hub-style folders: every run gets a model card (README.md: the model, the data, the training
budget, the metrics after `genzoo evaluate`, the sample grid); save_pretrained / from_pretrained on
every model (and as genzoo functions) write and read config.json + model.safetensors;
huggingface_hub's own PyTorchModelHubMixin loads the same weights from such a folder (no network)."""

from __future__ import annotations

import json

import pytest
import torch

import genzoo
from genzoo.cli import main
from genzoo.errors import GenzooError
from genzoo.models import GenerativeModel


def _state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_a_run_has_a_model_card_that_evaluate_fills_in(tmp_path, capsys):
    run = tmp_path / "vae"
    argv = ["train", "vae", "--data", "digits", "--steps", "20", "--out", str(run), "--quiet"]
    assert main([*argv, "--set", "model.latent_dim=4"]) == 0
    text = (run / "README.md").read_text()
    assert text.startswith("---\nlibrary_name: genzoo\ntags: [genzoo, vae, generative-model]\n---\n")
    for part in ("# vae on digits", "| latent_dim | 4 |", "## Data", "20 steps of batch", "![64 samples"):
        assert part in text, part
    assert "## Metrics" not in text
    assert main(["evaluate", str(run), "--metrics", "nll", "-n", "50"]) == 0
    text = (run / "README.md").read_text()
    nats = json.loads((run / "metrics.json").read_text())["metrics"]["nll"]["nats"]
    assert "## Metrics (`genzoo evaluate`)" in text and f"| nll | nats | {nats:.4g} |" in text
    capsys.readouterr()


def test_save_pretrained_and_from_pretrained(tmp_path):
    data = genzoo.datasets.load("ring8", split="train")
    model = genzoo.models.create("vae", data, seed=0, hidden=(32,))
    genzoo.train(model, data, steps=30, progress=False, sample_grid=False)
    folder = model.save_pretrained(tmp_path / "ring-vae")
    written = {p.name for p in folder.iterdir()}
    assert written >= {"config.json", "model.safetensors", "samples.png", "README.md"}
    vae = type(model)
    also = genzoo.save_pretrained(model, tmp_path / "again", samples=False)
    loaders = (genzoo.load, genzoo.from_pretrained, vae.from_pretrained, GenerativeModel.from_pretrained)
    for loaded in [load(folder) for load in loaders] + [genzoo.from_pretrained(also, family="vae")]:
        assert isinstance(loaded, vae) and not loaded.training
        want = _state(model)
        got = _state(loaded)
        assert want.keys() == got.keys() and all(torch.equal(want[k], got[k]) for k in want)
        a = loaded.sample(5, generator=torch.Generator().manual_seed(3))
        b = model.eval().sample(5, generator=torch.Generator().manual_seed(3))
        assert torch.equal(a, b)
    for refuse in (
        genzoo.models.MODELS.get("gan").from_pretrained,
        lambda f: genzoo.from_pretrained(f, family="gan"),
    ):
        with pytest.raises(GenzooError, match=r"holds a 'vae' model, not a 'gan'") as err:
            refuse(folder)
        assert "\n" not in str(err.value)
    assert "# vae on ring8" in (folder / "README.md").read_text()


def test_huggingface_hubs_mixin_loads_the_same_weights(tmp_path):
    hub = pytest.importorskip("huggingface_hub")
    from genzoo.training.checkpoint import build_model

    data = genzoo.datasets.load("digits", split="train")
    model = genzoo.models.create("ae", data, seed=0, hidden=(16,))
    genzoo.train(model, data, steps=10, progress=False, sample_grid=False)
    folder = model.save_pretrained(tmp_path / "ae", samples=False)
    family = type(model)

    class HubAE(hub.PyTorchModelHubMixin, family):  # the mixin's from_pretrained, not genzoo's
        """The family's class built from config.json's keys by the mixin, as a Hub user would."""

        def __init__(self, **config):
            built = build_model(config)
            family.__init__(self, built.config, built.info)

    loaded = HubAE.from_pretrained(str(folder))  # a local folder: huggingface_hub reads it, no request
    want, got = _state(model), _state(loaded)
    assert want.keys() == got.keys() and all(torch.equal(want[k], got[k]) for k in want)


def test_a_checkpoint_written_outside_a_run_directory_has_no_card(tmp_path):
    """Trainer.save() where no config.json was written (as benchmarks/bench_checkpoint.py times it):
    the weights and the state, and no model card rather than an error."""
    from genzoo.training.trainer import TrainConfig, Trainer

    data = genzoo.datasets.load("ring8", split="train")
    model = genzoo.models.create("vae", data, seed=0, hidden=(8,))
    trainer = Trainer(model, data, TrainConfig(steps=2, progress=False, sample_grid=False), tmp_path)
    trainer.begin()
    trainer.advance()
    trainer.save()
    assert (tmp_path / "model.safetensors").is_file() and (tmp_path / "train_state.pt").is_file()
    assert not (tmp_path / "README.md").exists()
