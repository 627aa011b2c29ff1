"""The command line's surface — every command, its options, their defaults and choices — against
the record in tests/data/cli_surface.json, so that reorganising the CLI's code cannot silently drop,
rename or re-default an option. After a deliberate change of the surface, rewrite the record with
`python tests/test_cli_surface.py --write` and review its diff."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from genzoo.cli import build_parser

RECORD = Path(__file__).parent / "data" / "cli_surface.json"


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def _action(a: argparse.Action) -> dict[str, Any]:
    return {
        "flags": list(a.option_strings) or [a.dest],
        "dest": a.dest,
        "default": _plain(a.default),
        "choices": _plain(list(a.choices)) if a.choices is not None else None,
        "nargs": _plain(a.nargs),
        "required": bool(a.required),
        "kind": type(a).__name__,
    }


def surface(parser: argparse.ArgumentParser) -> dict[str, list[dict[str, Any]]]:
    """{command: [option, ...]} for the top-level parser ("") and every subcommand, options sorted
    by their first flag."""
    out: dict[str, list[dict[str, Any]]] = {}

    def walk(p: argparse.ArgumentParser, name: str) -> None:
        rows = []
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for sub_name, sub in a.choices.items():
                    walk(sub, f"{name} {sub_name}".strip())
                rows.append({"flags": [a.dest], "commands": sorted(a.choices)})
            elif not isinstance(a, argparse._HelpAction):
                rows.append(_action(a))
        out[name] = sorted(rows, key=lambda r: r["flags"][0])

    walk(parser, "")
    return out


def test_every_command_keeps_its_options_defaults_and_choices():
    expected = json.loads(RECORD.read_text())
    now = surface(build_parser())
    assert sorted(now) == sorted(expected), "commands added or removed"
    for command in expected:
        assert now[command] == expected[command], f"the options of `genzoo {command}` changed"


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    RECORD.write_text(json.dumps(surface(build_parser()), indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {RECORD}")
