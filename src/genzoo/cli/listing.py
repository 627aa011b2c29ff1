"""`genzoo list`: the models, datasets and metrics, from the catalog (no torch)."""

from __future__ import annotations

import argparse

from genzoo import catalog
from genzoo.errors import GenzooError


def cmd_list(args: argparse.Namespace) -> int:
    what = args.what or "all"
    if args.name is not None and what not in ("models", "datasets"):
        raise GenzooError("give a name after `list models` or `list datasets`, e.g. genzoo list models vae")
    print(catalog.text(what, args.name))
    return 0


# --- the commands' arguments ------------------------------------------------------------
def register_list(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser(
        "list", help="list models, datasets or metrics; `list models NAME`: every option of a model"
    )
    s.add_argument(
        "what", nargs="?", choices=("models", "datasets", "metrics"), help="what to list (default all)"
    )
    s.add_argument("name", nargs="?", help="a model or dataset: its options, defaults, ranges and help")
    s.set_defaults(fn=cmd_list)
