"""Run the tutorial notebooks top to bottom and say how long each took; exit 1 if any cell fails.

    python docs/tutorials/run.py                 # every notebook here, at full size (make notebooks)
    python docs/tutorials/run.py --quick         # GENZOO_TUTORIAL_QUICK=1: the smaller run of the tests
    python docs/tutorials/run.py 01-density-estimation.ipynb
    python docs/tutorials/run.py --out build/notebooks   # keep the executed copies (the site shows them)

Each notebook runs in a fresh Jupyter kernel (nbclient, ipykernel) in a temporary folder, so
whatever it writes stays out of the repository, and nothing is written back into the notebook:
the notebooks are committed without outputs. With --out, each executed copy is written there (with
its size, quick or full, and its time in its metadata under "genzoo"), and `.complete` once every
notebook has run without an error; the documentation site renders those copies.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CELL_TIMEOUT = 600  # seconds for one cell


def notebooks() -> list[Path]:
    return sorted(HERE.glob("[0-9][0-9]-*.ipynb"))


def run(path: Path, *, quick: bool = False, timeout: int = CELL_TIMEOUT, out: Path | None = None) -> float:
    """Execute `path` in a fresh kernel; its seconds. A failing cell raises nbclient's
    CellExecutionError, which names the cell and the error. With `out`, the executed notebook is
    written to out/NAME (to a temporary name, then renamed)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    old = os.environ.get("GENZOO_TUTORIAL_QUICK")
    os.environ["GENZOO_TUTORIAL_QUICK"] = "1" if quick else "0"
    try:
        with tempfile.TemporaryDirectory(prefix="genzoo-tutorial-") as folder:
            client = NotebookClient(
                nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": folder}}
            )
            t0 = time.perf_counter()
            client.execute()
            seconds = time.perf_counter() - t0
    finally:
        if old is None:
            os.environ.pop("GENZOO_TUTORIAL_QUICK", None)
        else:
            os.environ["GENZOO_TUTORIAL_QUICK"] = old
    if out is not None:
        nb.metadata["genzoo"] = {"quick": quick, "seconds": round(seconds, 1)}
        out.mkdir(parents=True, exist_ok=True)
        part = out / f".{path.name}.part"
        nbformat.write(nb, part)
        part.replace(out / path.name)
    return seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*", help="notebooks to run (default: all of them)")
    ap.add_argument("--quick", action="store_true", help="the smaller run the test suite makes")
    ap.add_argument("--out", type=Path, help="write the executed notebooks to this folder")
    args = ap.parse_args(argv)
    paths = [HERE / n for n in args.names] or notebooks()
    if args.out is not None:
        (args.out / ".complete").unlink(missing_ok=True)
    failed = 0
    for path in paths:
        try:
            seconds = run(path, quick=args.quick, out=args.out)
            print(f"{path.name}: {seconds:.0f} s", flush=True)
        except Exception as exc:  # every notebook runs; each failure is said
            failed += 1
            print(f"{path.name}: FAILED — {str(exc).strip().splitlines()[-1][:300]}", flush=True)
    if args.out is not None and not failed and not args.names:
        (args.out / ".complete").write_text("quick\n" if args.quick else "full\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
