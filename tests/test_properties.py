"""Property-based tests (hypothesis) of every parser of user input: `--set`, the TOML config,
dataset names and their options, and the CLI's numeric and shape options. Whatever the input,
the answer is a value or a one-line GenzooError (argparse's one-line error, exit 2, on the
command line), never another exception."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import genzoo
from genzoo.cli import build_parser, main
from genzoo.config import build, option, parse_sets, read_toml
from genzoo.data.registry import PREFIXES, resolve
from genzoo.errors import GenzooError

load = genzoo.datasets.load
FEW = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def one_line(exc: GenzooError) -> None:
    assert "\n" not in str(exc) and str(exc)


# ---------------------------------------------------------------- --set


@FEW
@given(st.lists(st.text(max_size=40), max_size=5))
def test_parse_sets_takes_any_text(items):
    try:
        out = parse_sets(items)
    except GenzooError as exc:
        one_line(exc)
        return
    assert set(out) <= {"model", "data", "train"}
    assert sum(len(v) for v in out.values()) <= len(items)


@dataclass
class Typed:
    i: int = option(0)
    f: float = option(0.0)
    b: bool = option(False)
    s: str = option("")
    t: tuple[int, ...] = option(())
    pair: tuple[float, float] | None = option(None)


KEY = st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True)
FINITE = st.floats(allow_nan=False, allow_infinity=False)
INT64 = st.integers(-(2**63), 2**63 - 1)


@FEW
@given(
    section=st.sampled_from(["", "model.", "data.", "train."]),
    i=INT64,
    f=FINITE,
    b=st.booleans(),
    s=st.text(max_size=30).filter(lambda t: t.strip().lower() not in ("none", "null")),
    t=st.lists(st.integers(-(10**6), 10**6), max_size=4),
    pair=st.none() | st.tuples(FINITE, FINITE),
)
def test_set_round_trips(section, i, f, b, s, t, pair):
    values = {
        "i": str(i),
        "f": repr(f),
        "b": str(b).lower(),
        "s": s,
        "t": ",".join(map(str, t)),
        "pair": "none" if pair is None else f"{pair[0]!r},{pair[1]!r}",
    }
    items = [f"{section}{k}={v}" for k, v in values.items()]
    parsed = parse_sets(items)[section[:-1] or "model"]
    assert parsed == values
    got = build(Typed, parsed)
    assert (got.i, got.f, got.b, got.s, got.t, got.pair) == (i, f, b, s, tuple(t), pair)


@FEW
@given(key=KEY, value=st.text(max_size=30) | INT64.map(str) | st.floats().map(repr) | st.integers().map(str))
def test_build_checks_any_value(key, value):
    """A --set value against every field type: the value or a one-line GenzooError."""
    for k in ("i", "f", "b", "s", "t", "pair", key):
        try:
            build(Typed, {k: value})
        except GenzooError as exc:
            one_line(exc)


# ---------------------------------------------------------------- TOML config


@FEW
@given(st.binary(max_size=200))
def test_read_toml_takes_any_bytes(tmp_path, data):
    path = tmp_path / "c.toml"
    path.write_bytes(data)
    try:
        out = read_toml(path)
    except GenzooError as exc:
        one_line(exc)
        return
    assert set(out) <= {"model", "data", "train"} and all(isinstance(v, dict) for v in out.values())


TOML_TEXT = st.lists(
    st.sampled_from(
        [
            "[model]",
            "[data]",
            "[train]",
            "[x]",
            "a = 1",
            "b = 'q'",
            "c = [1, 2]",
            "d = {e = 1}",
            "f = 1e400",
            "g = nan",
            "h = 99999999999999999999999999",
            "= 3",
            '"k\\n" = 1',
            "[[model]]",
            "x.y = 1",
            "i = true",
            "[model.sub]",
            "z = 2024-01-01",
            "[" * 50,
            "\x00",
            "é = 1",
        ]
    ),
    max_size=8,
).map("\n".join)


@FEW
@given(TOML_TEXT | st.text(max_size=100))
def test_read_toml_takes_any_text(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        out = read_toml(path)
    except GenzooError as exc:
        one_line(exc)
        return
    for section, values in out.items():  # and what it read goes through build like --set values
        try:
            build(Typed, values, section=section)
        except GenzooError as exc:
            one_line(exc)


def test_read_toml_odd_files(tmp_path):
    for path in (tmp_path, tmp_path / "missing.toml", tmp_path / ("n" * 5000), "nul\x00.toml"):
        with pytest.raises(GenzooError) as err:
            read_toml(path)
        one_line(err.value)
    (tmp_path / "deep.toml").write_text("a = " + "[" * 5000)
    with pytest.raises(GenzooError, match="nested too deeply|not valid TOML"):
        read_toml(tmp_path / "deep.toml")
    (tmp_path / "latin.toml").write_bytes(b"[model]\nname = '\xe9'\n")
    with pytest.raises(GenzooError, match="not UTF-8"):
        read_toml(tmp_path / "latin.toml")


# ---------------------------------------------------------------- dataset names


NAMES = st.one_of(
    st.text(max_size=30),
    st.builds(
        lambda p, rest: f"{p}:{rest}", st.sampled_from([*PREFIXES, "x", "mnist", ""]), st.text(max_size=30)
    ),
    st.sampled_from(
        [
            "folder:",
            "npy:",
            "npz:~",
            "folder:~nobody_genzoo",
            "mnst",
            "C:\\data",
            "npy:/dev/null",
            "folder:/proc",
            "npy:" + "a" * 5000,
            "folder:\x00",
        ]
    ),
)


@FEW
@given(NAMES)
def test_dataset_names(name):
    try:
        spec, path = resolve(name)
    except GenzooError as exc:
        one_line(exc)
        return
    if path is None:
        return  # a bundled set, loaded by the data tests
    try:
        load(name, split="all")
    except GenzooError as exc:
        one_line(exc)


@FEW
@given(
    prefix=st.sampled_from(sorted(PREFIXES)),
    key=st.sampled_from(["size", "channels", "binarize", "range", "labels", "exclude", "path", "nope"]),
    value=st.text(max_size=12) | st.integers().map(str) | st.floats().map(repr),
    split=st.text(max_size=6) | st.sampled_from(["train", "test", "all"]),
)
def test_dataset_options(tmp_path, prefix, key, value, split):
    try:
        load(f"{prefix}:{tmp_path / 'missing'}", split=split, **{key: value})
    except GenzooError as exc:
        one_line(exc)


# ---------------------------------------------------------------- CLI numbers and shapes

# (argv before the option, option): every option that takes a number or a shape
NUMERIC = [
    *[
        (["train", "kde", "--data", "folder:/no/such/dir"], o)
        for o in ("--steps", "--epochs", "--batch-size", "--lr", "--seed", "--checkpoint-every")
    ],
    *[
        (["sample", "/no/such/run", "--out", "x.npy"], o)
        for o in ("-n", "--seed", "--label", "--steps", "--eta", "--guidance", "--size", "--code")
    ],
    *[(["evaluate", "/no/such/run"], o) for o in ("-n", "--n", "--seed")],
    *[(["tour", "--only", "nope", "--out", "/no/such/dir/t"], o) for o in ("--steps", "--seed")],
    *[(["interpolate", "/no/such/run", "--out", "x.png"], o) for o in ("--steps", "--seed")],
    (["score", "/no/such/run", "--input", "x.npy"], "--seed"),
    (["edit", "/no/such/run", "--input", "x.npy", "--out", "x.npy"], "--label"),
    *[
        (["condition", "/no/such/run", "--mask", "center", "--out", "x.npy"], o)
        for o in ("--size", "-n", "--seed", "--steps", "--eta", "--resample", "--label", "--guidance")
    ],
]
SIMULATE = [
    "--range",
    "--nu",
    "--sill",
    "--nugget",
    "--angle",
    "--ratio",
    "--mean",
    "-n",
    "--seed",
    "--modes",
    "--tol",
]
NUMBERS = st.one_of(
    st.integers().map(str),
    st.floats().map(repr),
    st.text(max_size=10),
    st.sampled_from(
        [
            "nan",
            "inf",
            "-inf",
            "1e400",
            "0x10",
            "1_000",
            " 7 ",
            "",
            "-0",
            str(2**63),
            str(-(2**63) - 1),
            str(2**64),
            "١٢",
            "1e-400",
            "--",
            "-n",
        ]
    ),
)


def run_main(capsys, argv):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    err = capsys.readouterr().err
    assert code != 0
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("argv, opt", NUMERIC, ids=[f"{a[0]} {o}" for a, o in NUMERIC])
def test_cli_numeric_options(argv, opt, capsys):
    @FEW
    @given(NUMBERS)
    def check(value):
        run_main(
            capsys,
            [
                *argv,
                f"{opt}={value}" if opt.startswith("--") else opt,
                *([] if opt.startswith("--") else [value]),
            ],
        )

    check()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(opt=st.sampled_from(SIMULATE), value=NUMBERS, h=NUMBERS, w=NUMBERS)
def test_cli_simulate_numbers_and_shape(tmp_path, capsys, opt, value, h, w):
    """simulate runs for real: with a small valid shape each number is used (exit 0) or refused."""
    out = str(tmp_path / "f.npz")
    for shape in ([h, w], ["6", "5"]):
        argv = ["simulate", "fft", "--range", "2", "--shape", *shape, "--out", out, f"{opt}={value}"]
        if opt == "-n":
            argv[-1:] = ["-n", value]
            try:
                assume(int(value) <= 4)  # a valid, huge -n would really draw that many fields
            except ValueError:
                pass
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
        err = capsys.readouterr().err
        assert code in (0, 2), err
        assert "Traceback" not in err and err.count("\n") <= 1, err


def test_parser_messages_are_one_line():
    p = build_parser()
    for argv in (
        ["simulate", "fft", "--shape", "0", "9", "--out", "x.npz"],
        ["sample", "r", "--out", "x", "--seed", "-1"],
        ["train", "vae", "--lr", "nan"],
        ["sample", "r", "--out", "x", "-n", str(2**40)],
    ):
        with pytest.raises(SystemExit) as exc:
            p.parse_args(argv)
        assert exc.value.code == 2
    assert math.isfinite(p.parse_args(["train", "vae", "--lr", "1e-3"]).lr)
