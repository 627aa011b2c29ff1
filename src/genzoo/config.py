"""Typed configuration: keyword defaults in a dataclass, overridden from a TOML file and
`--set key=value` strings, every value type-checked and range-checked once, here.

A field declares its constraints with `option`::

    @dataclass
    class Config:
        latent_dim: int = option(16, low=1, help="size of z")
        likelihood: str = option("auto", choices=("auto", "bernoulli", "gaussian"))
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from genzoo.errors import GenzooError, shown, suggest

INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # every integer option fits a torch/numpy int64


def option(
    default: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    choices: tuple | None = None,
    aliases: dict[str, Any] | None = None,
    help: str = "",
    missing: str = "",
) -> Any:
    """A dataclass field with a range (inclusive) or a set of choices, checked by `coerce`;
    `aliases` name values in words (``{"auto": None}``: the string "auto" stands for None). A
    model's sampling option says in `missing` what a model that does not take it lacks ("reverse
    sampler to set"), for the command line's error."""
    meta = {
        "low": low,
        "high": high,
        "choices": choices,
        "aliases": aliases or {},
        "help": help,
        "missing": missing,
    }
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def shown_value(value: Any) -> str:
    """A value as one would write it after --set: 400,200 for a tuple, true for True."""
    if isinstance(value, bool):
        return str(value).lower()
    return ",".join(map(shown_value, value)) if isinstance(value, (list, tuple)) else str(value)


def shown_default(default: Any, allowed: str) -> str:
    """An option's default as `genzoo list` shows it: auto (None where auto is allowed), none, or
    its value; `allowed` is the option's values as describe_fields says them."""
    if default is None:
        return "auto" if "auto" in allowed else "none"
    return shown_value(default)


def _parse_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError


def _convert(value: Any, tp: Any) -> Any:
    """Convert `value` (a string from the command line, or a TOML/JSON value) to type `tp`."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg)
            except (ValueError, TypeError):
                continue
        raise ValueError
    if origin is tuple or tp is tuple:
        args = typing.get_args(tp)
        items = value.split(",") if isinstance(value, str) else list(value)
        items = [i for i in items if not (isinstance(i, str) and not i.strip())]
        if args and args[-1] is not Ellipsis and len(args) != len(items):
            raise ValueError
        item_tp = args[0] if args else str
        return tuple(_convert(i, item_tp) for i in items)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return _parse_bool(value)
        raise ValueError
    if tp is int:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            return int(value.strip().replace("_", ""))
        raise ValueError
    if tp is float:
        if isinstance(value, bool):
            raise ValueError
        out = float(value)
        if not math.isfinite(out):
            raise ValueError
        return out
    if tp is str:
        if not isinstance(value, str):
            raise ValueError
        return value
    return value


def _type_name(tp: Any) -> str:
    """'int', 'float (or none)', 'int list' — how a user would say the type."""
    if isinstance(tp, str):
        return tp
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(names) + (" (or none)" if type(None) in args else "")
    if typing.get_origin(tp) is tuple:
        return f"comma-separated {_type_name(args[0]) if args else 'str'}s"
    return getattr(tp, "__name__", str(tp))


def _describe(f: dataclasses.Field, tp: Any = None) -> str:
    meta = f.metadata
    if meta.get("choices"):
        return "one of " + ", ".join(map(str, meta["choices"]))
    name = _type_name(tp if tp is not None else f.type)
    if meta.get("aliases"):
        name = " or ".join([*meta["aliases"], name.replace(" (or none)", "")])
    lo, hi = meta.get("low"), meta.get("high")
    if lo is not None and hi is not None:
        return f"{name} in [{lo}, {hi}]"
    if lo is not None:
        return f"{name} >= {lo}"
    if hi is not None:
        return f"{name} <= {hi}"
    return name


def coerce(cls: type, f: dataclasses.Field, value: Any, section: str) -> Any:
    """Convert and check one value for field `f` of dataclass `cls`."""
    hints = typing.get_type_hints(cls)
    key = f"{section}.{f.name}" if section else f.name
    tp = hints[f.name]
    aliases = f.metadata.get("aliases") or {}
    if isinstance(value, str) and value.strip().lower() in aliases:
        return aliases[value.strip().lower()]
    try:
        out = _convert(value, tp)
    except (ValueError, TypeError, OverflowError):  # OverflowError: a TOML integer beyond float
        raise GenzooError(f"{key}: expected {_describe(f, tp)}, got {value!r}") from None
    meta = f.metadata
    if meta.get("choices") and out not in meta["choices"]:
        raise GenzooError(f"{key}: expected {_describe(f, tp)}, got {value!r}")
    lo, hi = meta.get("low"), meta.get("high")
    values = out if isinstance(out, tuple) else (out,)
    for v in values:
        if isinstance(v, int) and not isinstance(v, bool) and not INT_MIN <= v <= INT_MAX:
            raise GenzooError(f"{key}: expected {_describe(f, tp)} within 64 bits, got {shown(value)[:60]}")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if (lo is not None and v < lo) or (hi is not None and v > hi):
                raise GenzooError(f"{key}: expected {_describe(f, tp)}, got {value!r}")
    return out


def build(cls: type, overrides: dict[str, Any] | None = None, *, section: str = "") -> Any:
    """Instantiate dataclass `cls` from its defaults and `overrides`, checking every value.

    Unknown keys are refused with the closest valid names."""
    overrides = dict(overrides or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in overrides.items():
        if key not in fields:
            where = f"{section}." if section else ""
            raise GenzooError(
                f"unknown option {where}{shown(key)}{suggest(str(key), [where + k for k in fields])}"
            )
        kwargs[key] = coerce(cls, fields[key], value, section)
    return cls(**kwargs)


def to_dict(obj: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(obj).items()}


def describe_fields(cls: type) -> list[tuple[str, Any, str, str]]:
    """(name, default, allowed, help) for each field — for `genzoo list` and the docs."""
    out = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        out.append(
            (f.name, default, _describe(f, typing.get_type_hints(cls)[f.name]), f.metadata.get("help", ""))
        )
    return out


def parse_sets(items: list[str]) -> dict[str, dict[str, str]]:
    """Split `--set section.key=value` strings into {section: {key: value}}.

    A key without a section belongs to the model."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        if "=" not in item:
            raise GenzooError(f"--set expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        key = key.strip()
        section, _, name = key.rpartition(".")
        section = section or "model"
        if section not in ("model", "data", "train"):
            raise GenzooError(
                f"--set {shown(key)}: unknown section "
                f"{section!r}{suggest(section, ['model', 'data', 'train'])}"
            )
        if not name:
            raise GenzooError(f"--set expects key=value, got {item!r}")
        out.setdefault(section, {})[name] = value
    return out


def read_toml(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read a config file with optional [model], [data] and [train] tables.

    Any file gives these tables or a one-line GenzooError: a missing or unreadable file, bytes
    that are not UTF-8, invalid or too deeply nested TOML, an unknown table."""
    path = Path(path)
    where = shown(path)
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise GenzooError(f"config file not found: {where}") from None
    except tomllib.TOMLDecodeError as exc:
        raise GenzooError(
            f"{where}: not valid TOML ({shown(str(exc).splitlines()[0] if str(exc) else exc)})"
        ) from None
    except UnicodeDecodeError as exc:
        raise GenzooError(f"{where}: not valid TOML (not UTF-8 text: byte {exc.start})") from None
    except RecursionError:
        raise GenzooError(f"{where}: not valid TOML (nested too deeply)") from None
    except (OSError, ValueError) as exc:  # a folder, no permission, a NUL in the name
        raise GenzooError(
            f"cannot read config file {where}: {shown(getattr(exc, 'strerror', None) or exc)}"
        ) from None
    out: dict[str, dict[str, Any]] = {}
    for key, value in doc.items():
        if key not in ("model", "data", "train"):
            raise GenzooError(
                f"{where}: unknown table [{shown(key)}]{suggest(key, ['model', 'data', 'train'])}"
            )
        if not isinstance(value, dict):
            raise GenzooError(f"{where}: {key} must be a table")
        out[key] = dict(value)
    return out
