"""Typed configuration: values given as command-line strings round-trip, out-of-range and
mistyped values are refused naming the key, and every registered config is checkable."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genzoo.config import build, describe_fields, option, parse_sets, read_toml, to_dict
from genzoo.errors import GenzooError, suggest
from genzoo.models import MODELS
from genzoo.training.trainer import TrainConfig


@dataclasses.dataclass
class Example:
    n: int = option(3, low=1, high=100)
    rate: float = option(0.5, low=0.0, high=1.0)
    mode: str = option("a", choices=("a", "b"))
    flag: bool = option(False)
    widths: tuple[int, ...] = option((4,), low=1)
    limit: float | None = option(None, low=0.0)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 100),
    rate=st.floats(0.0, 1.0),
    widths=st.lists(st.integers(1, 10**6), min_size=1, max_size=5),
)
def test_valid_strings_round_trip(n, rate, widths):
    cfg = build(
        Example,
        {"n": str(n), "rate": repr(rate), "widths": ",".join(map(str, widths)), "flag": "true"},
        section="model",
    )
    assert cfg.n == n and cfg.rate == rate and cfg.widths == tuple(widths) and cfg.flag is True
    assert build(Example, to_dict(cfg)) == cfg  # the saved form (config.json) builds the same config


@settings(max_examples=60, deadline=None)
@given(n=st.one_of(st.integers(max_value=0), st.integers(min_value=101)))
def test_out_of_range_is_refused_naming_the_key(n):
    with pytest.raises(GenzooError, match=r"model\.n: expected int in \[1, 100\]"):
        build(Example, {"n": str(n)}, section="model")


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("n", "2.5", "model.n: expected int"),
        ("rate", "nan", "model.rate: expected float"),
        ("rate", "inf", "model.rate"),
        ("mode", "c", "model.mode: expected one of a, b"),
        ("flag", "maybe", "model.flag: expected bool"),
        ("widths", "4,0", "model.widths: expected comma-separated ints >= 1"),
        ("limit", "-1", "model.limit: expected float (or none) >= 0.0"),
        ("nn", "3", "did you mean 'model.n'"),
    ],
)
def test_bad_values(key, value, needle):
    with pytest.raises(GenzooError) as info:
        build(Example, {key: value}, section="model")
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_none_and_defaults():
    assert build(Example, {"limit": "none"}).limit is None
    assert build(Example, {}) == Example()


@pytest.mark.parametrize("name", MODELS.names())
def test_every_registered_config_describes_and_rebuilds_its_defaults(name):
    cls = MODELS.get(name).Config
    rows = describe_fields(cls)
    assert rows and all(isinstance(allowed, str) and allowed for _, _, allowed, _ in rows)
    defaults = {k: v for k, v in to_dict(cls()).items()}
    assert to_dict(build(cls, defaults, section="model")) == defaults


def test_train_config_and_sets():
    assert build(TrainConfig, {"steps": "10", "betas": "0.5,0.9", "ema": "0.99"}, section="train").betas == (
        0.5,
        0.9,
    )
    assert parse_sets(["latent_dim=3", "data.binarize=static", "train.lr=0.1"]) == {
        "model": {"latent_dim": "3"},
        "data": {"binarize": "static"},
        "train": {"lr": "0.1"},
    }
    with pytest.raises(GenzooError, match="key=value"):
        parse_sets(["oops"])
    assert "did you mean 'mnist'" in suggest("mnst", ["mnist", "faces"])


def test_toml(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[model]\nlatent_dim = 3\n[train]\nsteps = 5\n")
    assert read_toml(path) == {"model": {"latent_dim": 3}, "train": {"steps": 5}}
    path.write_text("[modle]\nx = 1\n")
    with pytest.raises(GenzooError, match="unknown table \\[modle\\]; did you mean 'model'"):
        read_toml(path)
    path.write_text("[model\n")
    with pytest.raises(GenzooError, match="not valid TOML"):
        read_toml(path)
