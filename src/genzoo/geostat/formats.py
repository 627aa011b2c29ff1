"""The geoscientist's files: GSLIB / GeoEAS text files of grids and point sets, and VTK's XML image
data (.vti) and point data (.vtp) for ParaView.

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

Point sets (conditioning data, wells): a GeoEAS file whose columns name the grid indices — row, col
(and layer), or GSLIB's x, y (and z) with x the column, y the row and z the layer index, the nodes at
integer coordinates (xmn = 0, xsiz = 1) — and a value column, named `value` or the only other column.
`read_points` reads them, and CSV files, for `--points`; rows with a missing value are skipped, as
GSLIB's programs trim them.

VTK: `write_vti` writes fields as the point data of an image (nodes at (x, y, z) = (col, row, layer),
spacing 1, so that the array's C order is VTK's x-fastest order), each realisation and variable a
named array, raw little-endian binary appended after the XML; `write_vtp` writes scattered points
(wells) as poly-data vertices with their values. `read_vti` / `read_vtp` read them back (round trip);
ParaView and VTK's own readers open them (tests/test_geostat_formats.py checks with VTK's Python
package).

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


# --- point sets ------------------------------------------------------------------------------
_INDEX_NAMES = {"row": ("row", "y"), "col": ("col", "x"), "layer": ("layer", "z")}


def read_points(path: str | Path, layers: bool = False) -> tuple[np.ndarray, ...]:
    """Point data from a CSV file (header row, col[, layer], value) or a GSLIB / GeoEAS point file
    (see the module docstring): rows, cols, values — or with `layers` layers, rows, cols, values —
    as int64 index arrays and float64 values, unchecked against a grid."""
    if Path(path).suffix.lower() == ".csv":
        from genzoo.geostat.latent import read_points_csv

        return tuple(t.numpy() for t in read_points_csv(path, layers=layers))
    data = read_geoeas(path, missing=MISSING)
    keys = [n.strip().lower() for n in data.names]
    need = ("layer", "row", "col") if layers else ("row", "col")
    cols: dict[str, int] = {}
    for what in need:
        found = [keys.index(k) for k in _INDEX_NAMES[what] if k in keys]
        if not found:
            names, has = " or ".join(_INDEX_NAMES[what]), ", ".join(data.names)
            raise GenzooError(
                f"{path}: no column {names} (a point file names its grid indices row, col"
                f"{', layer' if layers else ''} or x, y{', z' if layers else ''}; it has {has})"
            )
        cols[what] = found[0]
    rest = [i for i in range(len(keys)) if i not in cols.values()]
    if "value" in keys:
        value = keys.index("value")
    elif len(rest) == 1:
        value = rest[0]
    else:
        raise GenzooError(
            f"{path}: which column holds the data? name it value (the file has {', '.join(data.names)})"
        )
    v = data.values
    keep = ~np.isnan(v[:, value])  # GSLIB trims missing values
    index = []
    for what in need:
        t = v[keep, cols[what]]
        bad = ~np.isfinite(t) | (t != np.round(t))
        if bad.any():
            raise GenzooError(
                f"{path}: {data.names[cols[what]]} must be integer grid indices (nodes at integer "
                f"coordinates), got {t[bad][0]:g}"
            )
        index.append(t.astype(np.int64))
    if not keep.any():
        raise GenzooError(f"{path}: no points with a value (all missing)")
    return (*index, v[keep, value].copy())


def write_points(
    path: str | Path,
    index: np.ndarray,
    values: np.ndarray,
    *,
    title: str = "genzoo points",
) -> Path:
    """Write point data as a GeoEAS file with columns x, y (, z), value: index (m, 2) (row, col) or
    (m, 3) (layer, row, col) grid indices."""
    index = np.asarray(index)
    if index.ndim != 2 or index.shape[1] not in (2, 3):
        raise GenzooError(f"index must be (m, 2) (row, col) or (m, 3) (layer, row, col), got {index.shape}")
    xyz = index[:, ::-1]  # x = col, y = row, z = layer
    names = ["x", "y", "z"][: index.shape[1]] + ["value"]
    return write_geoeas(path, np.c_[xyz, np.asarray(values, dtype=np.float64)], names, title=title)


# --- VTK XML ---------------------------------------------------------------------------------
_VTK_TYPES = {np.dtype("float32"): "Float32", np.dtype("float64"): "Float64", np.dtype("int64"): "Int64"}


def _vtk_file(kind: str, body: str, arrays: list[np.ndarray]) -> bytes:
    """An XML VTK file whose DataArrays are appended raw: each block a UInt64 byte count and the bytes."""
    head = (
        f'<?xml version="1.0"?>\n<VTKFile type="{kind}" version="1.0" byte_order="LittleEndian" '
        f'header_type="UInt64">\n{body}  <AppendedData encoding="raw">\n   _'
    )
    blocks = b"".join(
        np.uint64(a.nbytes).tobytes() + a.astype(a.dtype.newbyteorder("<")).tobytes() for a in arrays
    )
    return head.encode() + blocks + b"\n  </AppendedData>\n</VTKFile>\n"


def _data_arrays(
    named: list[tuple[str, np.ndarray]], offset: int = 0, components: int = 1
) -> tuple[str, list[np.ndarray], int]:
    """The DataArray elements of `named` arrays appended from byte `offset` on, the arrays, and the
    offset after them."""
    xml, arrays = "", []
    for name, a in named:
        a = np.ascontiguousarray(a)
        if a.dtype not in _VTK_TYPES:
            a = a.astype(np.float64)
        if not name or any(ch in name for ch in '<>&"'):
            raise GenzooError(f"VTK array names must be plain text, got {name!r}")
        xml += (
            f'        <DataArray type="{_VTK_TYPES[a.dtype]}" Name="{name}" '
            f'NumberOfComponents="{components}" format="appended" offset="{offset}"/>\n'
        )
        arrays.append(a)
        offset += 8 + a.nbytes
    return xml, arrays, offset


def write_vti(path: str | Path, fields: np.ndarray, names: list[str] | tuple[str, ...] | None = None) -> Path:
    """Write fields (N, C, H, W) or (N, C, D, H, W) as VTK image data (.vti) for ParaView: nodes at
    (x, y, z) = (col, row, layer), spacing 1; one point-data array per realisation and variable,
    named `names[c]` (default value, or value1..valueC), suffixed _0.._N−1 when N > 1."""
    fields = np.asarray(fields)
    if fields.ndim not in (4, 5):
        raise GenzooError(
            "fields must be (N, C, H, W) or (N, C, D, H, W) to write VTK image data, got shape "
            f"{tuple(fields.shape)}"
        )
    if fields.dtype not in _VTK_TYPES:
        fields = fields.astype(np.float64)
    n, c, *spatial = fields.shape
    d, h, w = [1, *spatial] if len(spatial) == 2 else spatial
    names = (
        list(names) if names is not None else (["value"] if c == 1 else [f"value{k + 1}" for k in range(c)])
    )
    if len(names) != c:
        raise GenzooError(f"{len(names)} names for {c} variables: one name per channel")
    named = [(nm if n == 1 else f"{nm}_{i}", fields[i, k]) for i in range(n) for k, nm in enumerate(names)]
    xml, arrays, _ = _data_arrays(named)
    extent = f"0 {w - 1} 0 {h - 1} 0 {d - 1}"
    body = (
        f'  <ImageData WholeExtent="{extent}" Origin="0 0 0" Spacing="1 1 1">\n'
        f'    <Piece Extent="{extent}">\n      <PointData Scalars="{named[0][0]}">\n{xml}'
        "      </PointData>\n      <CellData>\n      </CellData>\n    </Piece>\n  </ImageData>\n"
    )
    out = Path(path)
    with atomic_path(out) as tmp:
        Path(tmp).write_bytes(_vtk_file("ImageData", body, arrays))
    return out


def write_vtp(path: str | Path, index: np.ndarray, values: dict[str, np.ndarray] | np.ndarray) -> Path:
    """Write points — index (m, 2) (row, col) or (m, 3) (layer, row, col), e.g. wells — as VTK poly
    data (.vtp) vertices at (x, y, z) = (col, row, layer), with point-data arrays `values` (a dict of
    (m,) arrays, or one array named value)."""
    index = np.asarray(index, dtype=np.float64)
    if index.ndim != 2 or index.shape[1] not in (2, 3):
        raise GenzooError(f"index must be (m, 2) (row, col) or (m, 3) (layer, row, col), got {index.shape}")
    m = len(index)
    xyz = np.zeros((m, 3))
    xyz[:, : index.shape[1]] = index[:, ::-1]
    values = {"value": values} if not isinstance(values, dict) else values
    for name, v in values.items():
        if np.asarray(v).shape != (m,):
            raise GenzooError(
                f"point data {name!r} must have one value per point ({m}), got {np.asarray(v).shape}"
            )
    data_xml, data, at = _data_arrays([(k, np.asarray(v)) for k, v in values.items()])
    pts_xml, pts, at = _data_arrays([("Points", xyz)], at, components=3)
    verts = [("connectivity", np.arange(m, dtype=np.int64)), ("offsets", np.arange(1, m + 1, dtype=np.int64))]
    cell_xml, cells, _ = _data_arrays(verts, at)
    body = (
        f'  <PolyData>\n    <Piece NumberOfPoints="{m}" NumberOfVerts="{m}" NumberOfLines="0" '
        f'NumberOfStrips="0" NumberOfPolys="0">\n      <PointData>\n{data_xml}      </PointData>\n'
        f"      <Points>\n{pts_xml}"
        f"      </Points>\n      <Verts>\n{cell_xml}      </Verts>\n    </Piece>\n  </PolyData>\n"
    )
    out = Path(path)
    with atomic_path(out) as tmp:
        Path(tmp).write_bytes(_vtk_file("PolyData", body, [*data, *pts, *cells]))
    return out


def _read_vtk(path: str | Path, kind: str) -> tuple[object, dict[str, np.ndarray], bytes]:
    import xml.etree.ElementTree as ET

    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise GenzooError(f"{path}: no such file") from None
    start = raw.find(b"<AppendedData")
    mark = raw.find(b"_", start) + 1 if start >= 0 else -1
    if start < 0 or mark <= 0:
        raise GenzooError(f"{path}: not a VTK XML file with appended raw data (as genzoo writes them)")
    try:
        root = ET.fromstring(raw[:start].decode() + "</VTKFile>")
    except (ET.ParseError, UnicodeDecodeError) as exc:
        raise GenzooError(f"{path}: not a readable VTK XML file ({exc})") from None
    if root.get("type") != kind:
        raise GenzooError(f"{path}: a VTK {root.get('type')} file, not {kind}")
    arrays: dict[str, np.ndarray] = {}
    types = {v: k for k, v in _VTK_TYPES.items()}
    for el in root.iter("DataArray"):
        off = mark + int(el.get("offset", "0"))
        nbytes = int(np.frombuffer(raw[off : off + 8], dtype="<u8")[0])
        dtype = types.get(el.get("type", ""))
        if dtype is None or off + 8 + nbytes > len(raw):
            raise GenzooError(f"{path}: array {el.get('Name')!r} is truncated or of an unknown type")
        a = np.frombuffer(raw[off + 8 : off + 8 + nbytes], dtype=dtype.newbyteorder("<")).astype(dtype)
        k = int(el.get("NumberOfComponents", "1"))
        arrays[el.get("Name", "")] = a if k == 1 else a.reshape(-1, k)
    return root, arrays, raw


def read_vti(path: str | Path) -> dict[str, np.ndarray]:
    """The point-data arrays of a .vti file genzoo wrote, each (D, H, W) (D = 1 for a 2-D grid)."""
    root, arrays, _ = _read_vtk(path, "ImageData")
    x0, x1, y0, y1, z0, z1 = (int(v) for v in root.find("ImageData").get("WholeExtent").split())
    shape = (z1 - z0 + 1, y1 - y0 + 1, x1 - x0 + 1)
    return {k: v.reshape(shape) for k, v in arrays.items()}


def read_vtp(path: str | Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The points (m, 3) as (layer, row, col) and point-data arrays of a .vtp file genzoo wrote."""
    _, arrays, _ = _read_vtk(path, "PolyData")
    xyz = arrays.pop("Points")
    arrays.pop("connectivity", None)
    arrays.pop("offsets", None)
    return xyz[:, ::-1].copy(), arrays


# --- GeoTIFF (optional: rasterio) ------------------------------------------------------------------
def _rasterio():
    try:
        import rasterio
    except ImportError:
        raise GenzooError(
            "GeoTIFF files need rasterio: pip install 'genzoo[geotiff]' (or rasterio)"
        ) from None
    return rasterio


def write_geotiff(
    path: str | Path,
    fields: np.ndarray,
    *,
    cell: float = 1.0,
    origin: tuple[float, float] = (0.0, 0.0),
    crs: str | None = None,
) -> Path:
    """Write 2-D fields (H, W), (C, H, W) or (N, C, H, W) as a GeoTIFF, one band per realisation and
    variable (float32 or float64 as given; NaN stays NaN, the nodata value): the grid's row 0 is its
    north edge, cells of `cell` units, the south-west corner at `origin` (x, y), in `crs` if given
    (e.g. "EPSG:32631"). An optional dependency: rasterio (`pip install 'genzoo[geotiff]'`)."""
    a = np.asarray(fields)
    if a.ndim == 5 or a.ndim < 2:
        raise GenzooError(
            f"GeoTIFF holds 2-D grids (H, W), (C, H, W) or (N, C, H, W); got shape {tuple(a.shape)} "
            "(write blocks as .vti or GSLIB)"
        )
    a = a.reshape(-1, *a.shape[-2:])
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float64)
    rasterio = _rasterio()
    from rasterio.transform import Affine

    bands, h, w = a.shape
    out = Path(path)
    with atomic_path(out) as tmp:
        profile = {
            "driver": "GTiff",
            "height": h,
            "width": w,
            "count": bands,
            "dtype": a.dtype.name,
            "transform": Affine(cell, 0.0, origin[0], 0.0, -cell, origin[1] + h * cell),  # row 0 north
            "nodata": float("nan"),
        }
        if crs is not None:
            profile["crs"] = crs
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(a)
    return out


def read_geotiff(path: str | Path) -> np.ndarray:
    """The bands of a GeoTIFF as an array (bands, H, W), row 0 the north edge."""
    rasterio = _rasterio()
    if not Path(path).is_file():
        raise GenzooError(f"{path}: no such file")
    try:
        with rasterio.open(path) as src:
            return src.read()
    except rasterio.errors.RasterioIOError as exc:
        raise GenzooError(f"{path}: not a readable GeoTIFF ({str(exc).splitlines()[0]})") from None
