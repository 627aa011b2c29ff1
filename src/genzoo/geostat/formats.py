"""The geoscientist's text format: GSLIB / GeoEAS files of grids and point sets.

A GeoEAS file is a title line, the number of variables nvar, one name per line, then one row of
nvar numbers per value (whitespace-separated, free format)::

    genzoo fft grf
    1 64 64 1
    value
    0.4170220047
    ...

GSLIB writes grids in this format, one column per variable, x cycling fastest, then y, then z, and
realisations one after the other. genzoo's fields are arrays (N, C, H, W) or (N, C, D, H, W) with x
the column index, y the row index and z the layer index (the convention of genzoo.geostat's
anisotropy angles), so a realisation's values in GSLIB order are its C-order flattening. Line 2 may
carry the grid's nx ny nz after nvar, as genzoo writes it: a Fortran list-directed read of nvar (as
GSLIB's programs do it) ignores them, and `read_grid` takes the grid's shape from them when none is
given.

Missing values: a value equal to `missing` (default −999, GSLIB's "unestimated") or beyond GSLIB's
trimming limits (|v| ≥ 1e21) reads as NaN; NaN is written as `missing`. Numbers are written with 17
significant digits, so that float64 values read back bit for bit. Every malformed file is a
GenzooError in one line naming the file and, where there is one, the line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genzoo.atomic import atomic_path
from genzoo.errors import GenzooError

MISSING = -999.0  # GSLIB's value for an unestimated node
TRIM = 1e21  # GSLIB's default trimming limits: |v| ≥ TRIM is not data


@dataclass
class GeoEAS:
    """A GeoEAS file's contents: its title, its variables' names and their values (n, nvar),
    float64, NaN where missing; `grid`: the (nx, ny, nz) of line 2, or None."""

    title: str
    names: list[str]
    values: np.ndarray
    grid: tuple[int, int, int] | None = None

    def column(self, name: str) -> np.ndarray:
        """The values of the variable `name` (case and surrounding whitespace ignored)."""
        keys = [n.strip().lower() for n in self.names]
        if name.strip().lower() not in keys:
            raise GenzooError(f"no variable {name!r} (the file has {', '.join(self.names)})")
        return self.values[:, keys.index(name.strip().lower())]


def read_geoeas(path: str | Path, *, missing: float | None = MISSING) -> GeoEAS:
    """Read a GSLIB / GeoEAS file (see the module docstring)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise GenzooError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise GenzooError(f"{path}: not a text file (byte {exc.start} is not UTF-8)") from None
    except OSError as exc:
        raise GenzooError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    lines = text.splitlines()
    if len(lines) < 2:
        raise GenzooError(f"{path}: not a GeoEAS file (a title line, then the number of variables)")
    head = lines[1].split()
    try:
        nvar = int(head[0]) if head else -1
    except ValueError:
        nvar = -1
    if nvar < 1:
        raise GenzooError(
            f"{path}, line 2: expected the number of variables (a positive integer), "
            f"got {lines[1].strip()[:40]!r}"
        )
    grid = None
    if len(head) >= 4:
        try:
            dims = tuple(int(v) for v in head[1:4])
        except ValueError:
            dims = ()
        if len(dims) == 3 and min(dims) >= 1:
            grid = dims
    if len(lines) < 2 + nvar:
        raise GenzooError(f"{path}: {nvar} variables announced on line 2, {len(lines) - 2} names follow")
    names = [line.strip() for line in lines[2 : 2 + nvar]]
    if not all(names):
        raise GenzooError(f"{path}, line {3 + names.index('')}: an empty variable name")
    body = lines[2 + nvar :]
    values = _numbers(path, body, 3 + nvar, nvar)
    values[np.abs(values) >= TRIM] = np.nan
    if missing is not None:
        values[values == missing] = np.nan
    return GeoEAS(lines[0].strip(), names, values, grid)


def _numbers(path: str | Path, body: list[str], first: int, nvar: int) -> np.ndarray:
    """The rows of numbers (n, nvar): one C-level parse of all of them; on a bad row, a line-by-line
    look for the first one to name."""
    rows = [line for line in body if line.strip()]
    try:
        flat = np.array(" ".join(rows).split(), dtype=np.float64)
    except ValueError:
        flat = None
    if flat is not None and len(flat) == len(rows) * nvar:
        return flat.reshape(len(rows), nvar)
    for k, line in enumerate(body):  # the slow path, to say where
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) != nvar:
            raise GenzooError(
                f"{path}, line {first + k}: expected {nvar} number{'s' if nvar > 1 else ''}, "
                f"got {len(tokens)}"
            )
        for token in tokens:
            try:
                float(token)
            except ValueError:
                raise GenzooError(
                    f"{path}, line {first + k}: cannot read {token[:40]!r} as a number"
                ) from None
    raise GenzooError(f"{path}: unreadable numbers")  # not reached: the slow path names the line


def write_geoeas(
    path: str | Path,
    values: np.ndarray,
    names: list[str] | tuple[str, ...],
    *,
    title: str = "genzoo",
    grid: tuple[int, int, int] | None = None,
    missing: float = MISSING,
) -> Path:
    """Write values (n, nvar) with their names as a GeoEAS file (through a temporary name); NaN is
    written as `missing`; `grid` (nx, ny, nz) goes on line 2 after nvar."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2 or values.shape[1] != len(names):
        raise GenzooError(
            f"{len(names)} names for values of shape {tuple(values.shape)}: one name per column"
        )
    if any(not str(n).strip() or "\n" in str(n) for n in names):
        raise GenzooError(f"variable names must be non-empty single lines, got {list(names)!r}")
    if np.isinf(values).any():
        raise GenzooError("values must be finite or NaN (missing); got an infinity")
    head = f"{len(names)}" + (" {} {} {}".format(*grid) if grid else "")
    out = Path(path)
    with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(f"{' '.join(title.splitlines()) or 'genzoo'}\n{head}\n")
        f.write("".join(f"{n}\n" for n in names))
        np.savetxt(f, np.where(np.isnan(values), missing, values), fmt="%.17g", delimiter=" ")
    return out


def write_grid(
    path: str | Path,
    fields: np.ndarray,
    names: list[str] | tuple[str, ...] | None = None,
    *,
    title: str = "genzoo",
    missing: float = MISSING,
) -> Path:
    """Write fields (N, C, H, W) or (N, C, D, H, W) — N realisations of C variables — as a GSLIB
    grid file: one column per variable, x fastest, then y, then z, the realisations one after the
    other, and nx ny nz on line 2."""
    fields = np.asarray(fields, dtype=np.float64)
    if fields.ndim not in (4, 5):
        raise GenzooError(
            f"fields must be (N, C, H, W) or (N, C, D, H, W) to write a grid, got shape {tuple(fields.shape)}"
        )
    n, c, *spatial = fields.shape
    depth, height, width = [1, *spatial] if len(spatial) == 2 else spatial
    names = (
        list(names) if names is not None else (["value"] if c == 1 else [f"value{k + 1}" for k in range(c)])
    )
    values = fields.reshape(n, c, -1).transpose(0, 2, 1).reshape(-1, c)  # x fastest, realisations in turn
    return write_geoeas(path, values, names, title=title, grid=(width, height, depth), missing=missing)


def read_grid(
    path: str | Path, shape: tuple[int, ...] | None = None, *, missing: float | None = MISSING
) -> np.ndarray:
    """Read a GSLIB grid file as fields (N, C, H, W), or (N, C, D, H, W) for a shape (D, H, W) or a
    line 2 with nz > 1: C the file's variables, N = values / cells realisations. `shape`: (H, W) or
    (D, H, W); default the nx ny nz of line 2."""
    data = read_geoeas(path, missing=missing)
    if shape is None:
        if data.grid is None:
            raise GenzooError(
                f"{path}: no grid size on line 2 (nvar nx ny nz); give the shape (H, W) or (D, H, W)"
            )
        nx, ny, nz = data.grid
        shape = (ny, nx) if nz == 1 else (nz, ny, nx)
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise GenzooError(f"a grid's shape is (H, W) or (D, H, W) of positive sizes, got {shape}")
    cells = math.prod(shape)
    n, c = data.values.shape
    if n == 0 or n % cells:
        raise GenzooError(
            f"{path}: {n} values are not a whole number of {'×'.join(map(str, shape))} grids "
            f"({cells} cells each)"
        )
    return data.values.reshape(n // cells, cells, c).transpose(0, 2, 1).reshape(n // cells, c, *shape)
