"""What every registered model must do (pythae-style shared checks): build from a dataset,
change its state when trained, save → load to identical outputs, repeat seeded samples.
A family that registers itself is picked up here without editing this file.

Most families are checked on 8×8 digits and on 2-D points; a translation model (class attribute
`pairing` = "paired" or "unpaired") is checked on data of that pairing instead, and must refuse
data without a second image per example with a one-line error."""

from __future__ import annotations

import pytest
import torch

import genzoo
from genzoo.models import MODELS

pytestmark = pytest.mark.usefixtures("one_thread")  # conv nets on 2 threads crawl on a busy machine
FAMILIES = [name for name in MODELS.names() if name != "noisy-mean"]
TRANSLATORS = [name for name in FAMILIES if getattr(MODELS.get(name), "pairing", None)]


def _kinds(name: str) -> list[str]:
    pairing = getattr(MODELS.get(name), "pairing", None)
    return [pairing] if pairing else [k for k in ("image", "points") if k in MODELS.get(name).kinds]


CASES = [(name, kind) for name in FAMILIES for kind in _kinds(name)]
# the contract at a smaller sampling and likelihood budget where the defaults are long chains (ddpm's
# 1,000 noise levels, an RBM's 1,000 Gibbs steps and 10,000 AIS temperatures: 33 s and 26 s otherwise)
SMALL = {"ddpm": {"timesteps": 50}, "rbm": {"gibbs_steps": 50, "ais_betas": 200}}


@pytest.fixture(scope="module")
def data() -> dict[str, genzoo.datasets.Dataset]:
    digits = genzoo.datasets.load("digits", split="train", binarize="static")
    ring = genzoo.datasets.load("ring8", split="train", n=256)
    paired = genzoo.datasets.load("mnist-sr", split="train").subset(torch.arange(96))
    unpaired = genzoo.datasets.load("brick2gravel", split="train", n=96, patch=16)
    return {"image": digits.subset(torch.arange(256)), "points": ring, "paired": paired, "unpaired": unpaired}


def _state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _outputs(model, x):
    torch.manual_seed(0)
    out = {"sample": model.sample(6, generator=torch.Generator().manual_seed(5))}
    if model.likelihood is not None:
        kwargs = {"generator": torch.Generator().manual_seed(1)} if model.likelihood == "estimate" else {}
        out["log_prob"] = model.log_prob(x[:6], **kwargs)
    if model.encodes:
        out["encode"] = model.encode(x[:6])
    return out


def test_every_family_is_covered():
    assert {"kde", "vae"} <= set(FAMILIES)


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_model_contract(name, kind, data, tmp_path):
    ds = data[kind]
    model = genzoo.models.create(name, ds, seed=0, **SMALL.get(name, {}))
    assert model.info == ds.info and model.name == name
    before = _state(model)
    run = genzoo.train(model, ds, out=tmp_path, steps=3, batch_size=32, progress=False)
    after = _state(run.model)
    changed = before.keys() != after.keys() or any(
        before[k].shape != after[k].shape or not torch.equal(before[k], after[k]) for k in before
    )
    assert changed, "training left the model's state unchanged"

    x = ds.tensors()
    loaded = genzoo.load(tmp_path)
    a, b = _outputs(run.model, x), _outputs(loaded, x)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    s1 = loaded.sample(4, generator=torch.Generator().manual_seed(9))
    s2 = loaded.sample(4, generator=torch.Generator().manual_seed(9))
    s3 = loaded.sample(4, generator=torch.Generator().manual_seed(10))
    assert torch.equal(s1, s2) and not torch.equal(s1, s3)
    assert s1.shape == (4, *ds.info.shape)


@pytest.mark.parametrize("name", TRANSLATORS)
@pytest.mark.parametrize("kind", ["image", "points"])
def test_translators_refuse_one_image_per_example(name, kind, data):
    with pytest.raises(genzoo.GenzooError) as err:
        genzoo.models.create(name, data[kind], seed=0)
    message = str(err.value)
    assert "\n" not in message and repr(name) in message and data[kind].info.name in message


@pytest.mark.parametrize(
    "name", [n for n in FAMILIES if set(MODELS.get(n).kinds) != {"image", "points", "field"}]
)
def test_a_family_refuses_the_kinds_of_data_it_does_not_model(name, data):
    cls = MODELS.get(name)
    for other, ds in (("image", data["image"]), ("points", data["points"])):
        if other not in cls.kinds:
            with pytest.raises(genzoo.GenzooError) as err:
                genzoo.models.create(name, ds, seed=0)
            message = str(err.value)
            assert "\n" not in message and repr(name) in message and ds.info.name in message


@pytest.mark.parametrize(
    "name", [n for n in FAMILIES if MODELS.get(n).terms and not getattr(MODELS.get(n), "pairing", None)]
)
def test_divergence_names_the_network_in_one_line(name, data, tmp_path):
    """A learning rate of 1e30 blows every network up at once; the error says which loss went first
    in the model's own words ("the critic's loss (d_loss)"), in one line, and keeps the run directory."""
    ds = data["points" if "points" in MODELS.get(name).kinds else "image"]
    model = genzoo.models.create(name, ds, seed=0)
    with pytest.raises(genzoo.errors.TrainingDiverged) as err:
        genzoo.train(model, ds, out=tmp_path, steps=30, lr=1e30, batch_size=32, progress=False)
    message = str(err.value)
    assert "\n" not in message and " became " in message
    term = message.split(" became ")[0]
    assert any(term == f"{what} ({key})" for key, what in MODELS.get(name).terms.items()), message


# --- abilities, declared once ----------------------------------------------------------------------
def test_the_declared_abilities_name_the_families_that_have_them():
    """The protocols of models/base.py against the families' methods: six classes inpaint (a
    hand-written list once said three), two translate, one edits."""
    from genzoo.models.registry import able

    assert able("inpaints") == ["ddpm", "fvsbn", "gated-pixelcnn", "pixelcnn", "pixelrnn", "rbm"]
    assert able("translates") == ["cyclegan", "pix2pix"]
    assert able("edits") == ["cgan"]
    assert able("likelihood") == [n for n in MODELS.names() if MODELS.get(n).likelihood is not None]


@pytest.mark.parametrize("name", MODELS.names())
def test_a_protocol_holds_exactly_where_its_methods_are(name):
    """Declaration and definition agree for every family: a class is Inpaints / Edits / Translates /
    Classifies when, and only when, it defines every method of the protocol."""
    from genzoo.models.base import Classifies, Edits, HasFilters, Inpaints, Trajectories, Translates

    cls = MODELS.get(name)
    for proto, methods in (
        (Inpaints, ["inpaint"]),
        (Edits, ["edit"]),
        (Translates, ["translate", "translation_shapes"]),
        (Classifies, ["classify"]),
        (HasFilters, ["filters"]),
        (Trajectories, ["trajectory"]),
    ):
        assert issubclass(cls, proto) == all(callable(getattr(cls, m, None)) for m in methods), (
            name,
            proto.__name__,
        )


def test_genzoo_list_models_shows_the_ability_table(capsys):
    from genzoo.catalog import render_list
    from genzoo.models.base import ABILITIES

    lines = render_list("models").splitlines()
    start = lines.index("abilities:")
    header, rows = lines[start + 1].split(), [line.split() for line in lines[start + 2 :]]
    assert header[0] == "model" and len(rows) == len(MODELS.names())
    assert " ".join(header[1:]) == " ".join(label for label, _ in ABILITIES.values())
    by_name = {r[0]: r[1:] for r in rows}
    assert by_name["ddpm"][0] == "bound" and by_name["kde"][0] == "exact" and by_name["gan"][0] == "·"
    inpaint = list(ABILITIES).index("inpaints")
    assert [n for n, cells in by_name.items() if cells[inpaint] == "✓"] == [
        "ddpm",
        "fvsbn",
        "gated-pixelcnn",
        "pixelcnn",
        "pixelrnn",
        "rbm",
    ]


def test_a_command_refusing_a_family_names_those_that_can(tmp_path, capsys):
    """`genzoo condition --mask` on a gan: one line naming the six families that inpaint, from the
    declarations (not a hand-written list)."""
    from genzoo.cli import main

    run = tmp_path / "gan"
    assert (
        main(
            [
                "train",
                "gan",
                "--data",
                "moons",
                "--steps",
                "2",
                "--out",
                str(run),
                "--quiet",
                "--set",
                "data.n=100",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["condition", str(run), "--mask", "bottom-half", "--out", str(tmp_path / "f.npz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert (
        "model 'gan' cannot fill a masked part of an example "
        "(ddpm, fvsbn, gated-pixelcnn, pixelcnn, pixelrnn, rbm can)" in err
    )


# --- sampling options, declared once -----------------------------------------------------------------
@pytest.mark.parametrize("name", MODELS.names())
def test_the_declared_sampling_options_are_the_keywords_the_methods_take(name):
    """A family's SampleOptions / InpaintOptions name keywords its sample() / inpaint() take, and no
    keyword that another family declares is taken undeclared (so a flag cannot silently reach, or
    miss, a family)."""
    import inspect

    from genzoo.models.base import declared_options

    cls = MODELS.get(name)
    for method in ("sample", "inpaint"):
        if not callable(getattr(cls, method, None)):
            assert not declared_options(cls, method), (name, method)
            continue
        every = {k for other in MODELS.names() for k in declared_options(MODELS.get(other), method)}
        taken = set(inspect.signature(getattr(cls, method)).parameters)
        assert set(declared_options(cls, method)) <= taken, (name, method)
        assert taken & every == set(declared_options(cls, method)), (name, method)


def test_the_sampling_options_of_ddpm_infogan_gan_and_the_gibbs_samplers():
    from genzoo.models.base import declared_options

    assert list(declared_options(MODELS.get("ddpm"), "sample")) == ["steps", "sampler", "eta", "guidance"]
    assert list(declared_options(MODELS.get("ddpm"), "inpaint")) == [
        "steps",
        "sampler",
        "eta",
        "guidance",
        "resample",
    ]
    assert list(declared_options(MODELS.get("infogan"), "sample")) == ["code", "continuous"]
    assert list(declared_options(MODELS.get("rbm"), "inpaint")) == ["steps"]
    assert [n for n in MODELS.names() if "size" in declared_options(MODELS.get(n), "sample")] == [
        "cholesky",
        "facies",
        "fft",
        "gan",
        "spde",
        "spectral",
    ]
    assert [n for n in MODELS.names() if MODELS.get(n).exact_points] == [
        "cholesky",
        "fft",
        "spde",
        "spectral",
    ]


def test_a_new_family_s_option_becomes_a_flag_without_touching_the_cli(tmp_path, monkeypatch, capsys):
    """Declare `temperature` on the test family: `genzoo sample` gets --temperature (its help naming
    the family), passes it to sample(), checks its declared range, and refuses it for a family
    that does not declare it, naming the one that does."""
    from dataclasses import dataclass

    from genzoo import catalog
    from genzoo.cli import build_parser, main
    from genzoo.config import option

    @dataclass
    class TemperatureOptions:
        temperature: float | None = option(
            None, low=0.0, help="scale of the noise", missing="temperature to set"
        )

    cls = MODELS.get("noisy-mean")
    seen = {}

    def sample(self, n, *, generator=None, temperature=None, **condition):
        seen["temperature"] = temperature
        return torch.zeros(n, *self.info.shape)

    monkeypatch.setattr(cls, "SampleOptions", TemperatureOptions)
    monkeypatch.setattr(cls, "sample", sample)
    monkeypatch.setattr(catalog, "options", catalog.render_options)
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["sample"]
    flag = next(a for a in sub._actions if a.dest == "temperature")
    assert flag.help == "noisy-mean: scale of the noise" and flag.default is None
    run, kde = tmp_path / "nm", tmp_path / "kde"
    assert (
        main(
            [
                "train",
                "noisy-mean",
                "--data",
                "moons",
                "--set",
                "data.n=64",
                "--steps",
                "1",
                "--out",
                str(run),
                "--quiet",
            ]
        )
        == 0
    )
    assert main(["train", "kde", "--data", "moons", "--set", "data.n=64", "--out", str(kde), "--quiet"]) == 0
    assert (
        main(["sample", str(run), "-n", "2", "--temperature", "0.5", "--out", str(tmp_path / "s.npy")]) == 0
    )
    assert seen == {"temperature": 0.5}
    capsys.readouterr()
    assert main(["sample", str(run), "--temperature", "-1", "--out", str(tmp_path / "t.npy")]) == 2
    assert "--temperature: expected float (or none) >= 0.0, got -1.0" in capsys.readouterr().err
    assert main(["sample", str(kde), "--temperature", "1", "--out", str(tmp_path / "k.npy")]) == 2
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1
        and "--temperature: model 'kde' has no temperature to set (noisy-mean has)" in err
    )


@pytest.mark.parametrize("name", MODELS.names())
def test_no_family_sits_more_than_two_levels_below_the_base(name):
    """Families compose networks and simulators rather than inherit behaviour: a registered class is
    a GenerativeModel, or a declaration-only variant of one family base (the autoencoders' hooks,
    the fields' method table) — never deeper (CholeskyField once sat three levels down)."""
    from genzoo.models.base import GenerativeModel

    mro = MODELS.get(name).__mro__
    assert mro.index(GenerativeModel) <= 2, (name, [c.__name__ for c in mro])
