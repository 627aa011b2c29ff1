"""User-facing errors: one clear line, exit status 2, no traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GenzooError(Exception):
    """A problem with the user's input (a name, a value, a file). The CLI prints it on one
    line and exits with status 2."""

    exit_code = 2


class TrainingDiverged(GenzooError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""

    exit_code = 1


def suggest(name: str, valid: Iterable[str]) -> str:
    """' (did you mean 'x'?) valid: a, b, c' — the closest names first."""
    valid = sorted(valid)
    # compare the last dotted part, so that a shared "model." prefix does not dominate the score
    tails = {v.rpartition(".")[2]: v for v in valid}
    close = [
        tails[t] for t in difflib.get_close_matches(name.rpartition(".")[2], list(tails), n=3, cutoff=0.5)
    ]
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"{hint} (valid: {', '.join(valid)})"


def shown(text: object) -> str:
    """`text` (a path, a key) as it goes into a one-line message: quoted when it holds control characters."""
    text = str(text)
    return text if text.isprintable() else repr(text)
