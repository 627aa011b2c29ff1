"""The `genzoo` command line (DESIGN.md, "The user's contract").

One module per group of commands, each command's arguments (`register_NAME`) beside its code
(`cmd_NAME`); `common` holds what they share. `build_parser` adds the commands in the order the
help lists them."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from genzoo.cli import condition, evaluate, generate, geostat, lab, latent, listing, train
from genzoo.errors import GenzooError
from genzoo.version import __version__

# the order of `genzoo --help`
COMMANDS = (
    listing.register_list,
    train.register_train,
    generate.register_sample,
    evaluate.register_evaluate,
    evaluate.register_compare,
    train.register_tour,
    generate.register_interpolate,
    latent.register_encode,
    latent.register_score,
    latent.register_denoise,
    latent.register_edit,
    latent.register_translate,
    condition.register_condition,
    geostat.register_simulate,
    evaluate.register_report,
    lab.register_lab,
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        message = " ".join(message.split("\n"))
        self.exit(2, f"{self.prog}: error: {message}\n")

    def _get_values(self, action: argparse.Action, arg_strings: list[str]) -> Any:
        # argparse drops a lone "--" value, so that `--steps=--` would give [] instead of an error
        if action.option_strings and action.nargs in (None, "?") and arg_strings == ["--"]:
            self.error(f"argument {'/'.join(action.option_strings)}: expected a value, got '--'")
        return super()._get_values(action, arg_strings)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="genzoo", description="Deep generative models, trained, sampled and scored alike.")
    p.add_argument("--version", action="version", version=f"genzoo {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for register in COMMANDS:
        register(sub)
    return p


PACKAGE = Path(__file__).resolve().parent.parent


def _one_line_warnings(other):  # noqa: ANN001, ANN202
    """A warnings.showwarning that prints genzoo's own warnings as one line, `genzoo: warning: ...`,
    and hands any other to `other`."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
        try:
            ours = Path(filename).resolve().is_relative_to(PACKAGE)
        except (OSError, ValueError):
            ours = False
        if not ours:
            return other(message, category, filename, lineno, file, line)
        text = " ".join(str(message).split("\n"))
        print(f"genzoo: warning: {text}", file=file or sys.stderr)

    return show


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warnings(warnings.showwarning)
            if args.command not in ("train", "tour") and hasattr(args, "threads"):
                from genzoo import threads  # training chooses its own count by timing steps

                threads.resolve(args.threads)
            return args.fn(args)
    except GenzooError as exc:
        print(f"genzoo: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # `genzoo list models vae | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt as exc:
        print(f"genzoo: interrupted{': ' + str(exc) if str(exc) else ''}", file=sys.stderr)
        return 130
    except MemoryError:
        print(
            "genzoo: error: out of memory — ask for less (a smaller -n, --batch-size or size)",
            file=sys.stderr,
        )
        return 2
    except RuntimeError as exc:  # torch's allocator failing on the CPU or the GPU
        if "out of memory" not in str(exc) and "DefaultCPUAllocator" not in str(exc):
            raise
        print(
            f"genzoo: error: out of memory ({str(exc).splitlines()[0][:160]}) — "
            "ask for less (a smaller -n, --batch-size or size)",
            file=sys.stderr,
        )
        return 2
