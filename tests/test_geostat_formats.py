"""GSLIB / GeoEAS files (genzoo.geostat.formats): the layout against a brute-force loop over the
grid, round trips bit for bit, files written by hand as GSLIB's programs write them, and every
malformed file a one-line error naming the line."""

from __future__ import annotations

import numpy as np
import pytest

from genzoo.errors import GenzooError
from genzoo.geostat.formats import read_geoeas, read_grid, write_geoeas, write_grid


def test_a_grid_is_written_x_fastest_then_y_then_z_realisations_in_turn(tmp_path):
    """The values' order against the triple loop of GSLIB's convention (x the column index, y the
    row, z the layer), for 2 realisations of 2 variables on a 3 × 2 × 4 block."""
    n, c, d, h, w = 2, 2, 3, 2, 4
    fields = np.arange(n * c * d * h * w, dtype=np.float64).reshape(n, c, d, h, w) + 0.25
    path = write_grid(tmp_path / "block.gslib", fields, ["porosity", "facies"], title="a block")
    lines = path.read_text().splitlines()
    assert lines[:4] == ["a block", f"2 {w} {h} {d}", "porosity", "facies"]
    expected = [
        f"{float(fields[r, 0, z, y, x])!r} {float(fields[r, 1, z, y, x])!r}"
        for r in range(n)
        for z in range(d)
        for y in range(h)
        for x in range(w)
    ]
    assert lines[4:] == expected
    assert np.array_equal(read_grid(path), fields)  # the shape from line 2


def test_round_trips_are_bit_for_bit_with_missing_values(tmp_path):
    rng = np.random.default_rng(0)
    fields = rng.standard_normal((3, 1, 5, 7)) * 10.0 ** rng.integers(
        -300, 20, (3, 1, 5, 7)
    )  # below the trimming limit 1e21
    fields[1, 0, 2, 3] = np.nan
    back = read_grid(write_grid(tmp_path / "f.dat", fields), (5, 7))
    assert back.shape == (3, 1, 5, 7) and np.array_equal(back, fields, equal_nan=True)
    assert "-999" in (tmp_path / "f.dat").read_text()  # NaN is GSLIB's unestimated value
    values = rng.standard_normal((10, 3))
    data = read_geoeas(write_geoeas(tmp_path / "p.dat", values, ["x", "y", "grade"]))
    assert data.names == ["x", "y", "grade"] and np.array_equal(data.values, values)
    assert np.array_equal(data.column(" GRADE "), values[:, 2]) and data.grid is None


def test_files_as_gslib_writes_them(tmp_path):
    """A grid file with nvar alone on line 2 (as GSLIB's sgsim writes it) reads with a given shape;
    a point set with free-format spacing, blank lines, −999 and trimmed values."""
    (tmp_path / "sgsim.out").write_text(
        "SGSIM Realizations\n1\nvalue\n" + "".join(f"  {v:.4f}\n" for v in range(12))
    )
    grid = read_grid(tmp_path / "sgsim.out", (2, 3))  # 2 realisations of a 2 × 3 grid
    assert grid.shape == (2, 1, 2, 3) and grid[1, 0, 0, 2] == 8.0 and grid[0, 0, 1, 0] == 3.0
    with pytest.raises(GenzooError, match=r"no grid size on line 2 \(nvar nx ny nz\); give the shape"):
        read_grid(tmp_path / "sgsim.out")
    (tmp_path / "wells.dat").write_text(
        "wells\n3\nX\nY\nPorosity\n1.5   2.5 0.21\n\n 3 4\t-999\n5 6 1.0e21\n7 8 -1.5E-01\n"
    )
    data = read_geoeas(tmp_path / "wells.dat")
    assert data.title == "wells" and data.values.shape == (4, 3)
    assert np.isnan(data.values[1:3, 2]).all() and data.values[3, 2] == -0.15
    assert read_geoeas(tmp_path / "wells.dat", missing=None).values[1, 2] == -999.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"not a GeoEAS file"),
        (
            "title\nthree\nv\n1\n",
            r"line 2: expected the number of variables \(a positive integer\), got 'three'",
        ),
        ("title\n0\n", r"line 2: expected the number of variables"),
        ("title\n3\nx\ny\n", r"3 variables announced on line 2, 2 names follow"),
        ("title\n2\nx\ny\n1 2\n3\n5 6\n", r"line 6: expected 2 numbers, got 1"),
        ("title\n2\nx\ny\n1 2\n3 4 5\n", r"line 6: expected 2 numbers, got 3"),
        ("title\n2\nx\ny\n1 2\n3 abc\n", r"line 6: cannot read 'abc' as a number"),
        ("title\n1\n\n1\n", r"line 3: an empty variable name"),
    ],
)
def test_a_malformed_file_is_one_line_naming_where(tmp_path, text, message):
    path = tmp_path / "bad.dat"
    path.write_text(text)
    with pytest.raises(GenzooError, match=message) as err:
        read_geoeas(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_bad_shapes_and_files_are_one_line(tmp_path):
    write_grid(tmp_path / "g.dat", np.zeros((1, 1, 4, 5)))
    for call, message in [
        (lambda: read_grid(tmp_path / "g.dat", (3, 3)), r"20 values are not a whole number of 3×3 grids"),
        (lambda: read_grid(tmp_path / "g.dat", (4,)), r"a grid's shape is \(H, W\) or \(D, H, W\)"),
        (lambda: read_geoeas(tmp_path / "none.dat"), r"none.dat: no such file"),
        (lambda: write_grid(tmp_path / "x.dat", np.zeros((4, 5))), r"fields must be \(N, C, H, W\)"),
        (lambda: write_geoeas(tmp_path / "x.dat", np.zeros((3, 2)), ["a"]), r"1 names for values of shape"),
        (lambda: write_geoeas(tmp_path / "x.dat", np.array([np.inf]), ["a"]), r"got an infinity"),
        (
            lambda: read_geoeas(tmp_path / "g.dat").column("depth"),
            r"no variable 'depth' \(the file has value\)",
        ),
    ]:
        with pytest.raises(GenzooError, match=message) as err:
            call()
        assert "\n" not in str(err.value)
    (tmp_path / "bin.dat").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(GenzooError, match=r"not a text file"):
        read_geoeas(tmp_path / "bin.dat")


def test_genzoo_simulate_writes_a_gslib_grid_of_the_same_fields(tmp_path):
    """`genzoo simulate ... --out FILE.gslib` holds the very fields `--out FILE.npz` does (same seed)."""
    import genzoo.geostat as gs
    from genzoo.cli import main

    args = ["simulate", "fft", "--cov", "exponential", "--range", "6", "--shape", "12", "20", "-n", "3"]
    assert main([*args, "--seed", "4", "--out", str(tmp_path / "f.gslib")]) == 0
    assert main([*args, "--seed", "4", "--out", str(tmp_path / "f.npz")]) == 0
    fields = gs.read_grid(tmp_path / "f.gslib")
    assert fields.shape == (3, 1, 12, 20)
    assert np.array_equal(fields, np.load(tmp_path / "f.npz")["x"].astype(np.float64))
    assert (tmp_path / "f.png").is_file() and "seed 4" in (tmp_path / "f.gslib").read_text().splitlines()[0]


# --- point files -----------------------------------------------------------------------------------
def test_gslib_point_files_give_grid_indices_and_values(tmp_path):
    """x is the column, y the row, z the layer; a column named value (or the only other one) holds
    the data; missing values are trimmed as GSLIB does; write_points reads back."""
    from genzoo.geostat.formats import read_points, write_points

    two = tmp_path / "wells.dat"
    two.write_text("wells\n3\nX\nY\nporosity\n4 1 0.25\n0 2 -999\n6 3 1.5\n")
    rows, cols, values = read_points(two)
    assert rows.tolist() == [1, 3] and cols.tolist() == [4, 6] and values.tolist() == [0.25, 1.5]
    three = write_points(tmp_path / "w3.dat", np.array([[0, 1, 2], [5, 1, 2]]), np.array([0.5, -2.0]))
    assert three.read_text().splitlines()[2:6] == ["x", "y", "z", "value"]
    layers, rows, cols, values = read_points(three, layers=True)
    assert layers.tolist() == [0, 5] and rows.tolist() == [1, 1] and cols.tolist() == [2, 2]
    named = tmp_path / "named.dat"
    named.write_text("t\n4\nlayer\nrow\ncol\nvalue\n1 2 3 4.5\n")
    assert [a.tolist() for a in read_points(named, layers=True)] == [[1], [2], [3], [4.5]]
    csv = tmp_path / "p.csv"
    csv.write_text("row,col,value\n1,2,3.5\n")
    assert [a.tolist() for a in read_points(csv)] == [[1], [2], [3.5]]
    for text, message in (
        ("t\n2\nx\nvalue\n1 2\n", "no column row or y"),
        ("t\n4\nx\ny\na\nb\n1 2 3 4\n", r"which column holds the data\? name it value"),
        ("t\n3\nx\ny\nvalue\n1.5 2 3\n", "x must be integer grid indices"),
        ("t\n3\nx\ny\nvalue\n1 2 -999\n", "no points with a value"),
    ):
        bad = tmp_path / "bad.dat"
        bad.write_text(text)
        with pytest.raises(GenzooError, match=message) as err:
            read_points(bad)
        assert "\n" not in str(err.value)


def test_genzoo_condition_and_simulate_read_gslib_point_files(tmp_path, capsys):
    from genzoo.cli import main
    from genzoo.geostat.formats import write_points

    pts = write_points(
        tmp_path / "wells.dat", np.array([[2, 3, 4], [2, 3, 5], [0, 6, 1]]), np.array([1.0, 1.2, -0.5])
    )
    out = tmp_path / "b.npz"
    argv = [
        "simulate",
        "fft",
        "--range",
        "3",
        "--shape",
        "4",
        "8",
        "9",
        "--points",
        str(pts),
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    with np.load(out, allow_pickle=False) as z:
        x = z["x"]
    assert np.abs(x[0, 0, [2, 2, 0], [3, 3, 6], [4, 5, 1]] - [1.0, 1.2, -0.5]).max() < 1e-8
    from genzoo.geostat.formats import read_vti

    vti = tmp_path / "b.vti"
    assert main([*argv[:-1], str(vti)]) == 0  # the same seed, to VTK image data
    assert np.array_equal(read_vti(vti)["value"], x[0, 0])  # float64: conditioned fields
    capsys.readouterr()


# --- VTK -----------------------------------------------------------------------------------------
def test_vtk_image_and_point_data_round_trip(tmp_path):
    from genzoo.geostat.formats import read_vti, read_vtp, write_vti, write_vtp

    rng = np.random.default_rng(1)
    block = rng.standard_normal((2, 1, 3, 4, 5)).astype(np.float32)
    arrays = read_vti(write_vti(tmp_path / "b.vti", block, ["porosity"]))
    assert sorted(arrays) == ["porosity_0", "porosity_1"]
    assert np.array_equal(arrays["porosity_1"], block[1, 0]) and arrays["porosity_1"].dtype == np.float32
    flat = read_vti(write_vti(tmp_path / "f.vti", rng.standard_normal((1, 2, 4, 6))))
    assert sorted(flat) == ["value1", "value2"] and flat["value2"].shape == (1, 4, 6)
    wells = np.array([[0, 1, 2], [1, 1, 2], [2, 1, 2]])
    xyz, data = read_vtp(write_vtp(tmp_path / "w.vtp", wells, {"porosity": np.array([0.1, 0.2, 0.3])}))
    assert np.array_equal(xyz, wells) and np.array_equal(data["porosity"], [0.1, 0.2, 0.3])
    with pytest.raises(GenzooError, match="a VTK PolyData file, not ImageData"):
        read_vti(tmp_path / "w.vtp")


def test_vtks_own_readers_read_what_genzoo_writes(tmp_path):
    """ParaView reads .vti/.vtp through VTK's XML readers: VTK's Python package opens the files and
    finds the same grid, spacing, values (x fastest) and points."""
    import vtkmodules.all as vtk  # a test dependency (the dev extra): no skip
    from vtkmodules.util.numpy_support import vtk_to_numpy

    from genzoo.geostat.formats import write_vti, write_vtp

    block = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 1, 3, 4, 5)
    reader = vtk.vtkXMLImageDataReader()
    reader.SetFileName(str(write_vti(tmp_path / "b.vti", block)))
    reader.Update()
    image = reader.GetOutput()
    assert image.GetDimensions() == (5, 4, 3) and image.GetSpacing() == (1.0, 1.0, 1.0)
    got = vtk_to_numpy(image.GetPointData().GetArray("value_1"))
    assert np.array_equal(got, block[1, 0].ravel())  # VTK's point order: x fastest, then y, z
    assert (
        image.GetPointData().GetArray("value_1").GetTuple1(image.ComputePointId([4, 1, 2]))
        == block[1, 0, 2, 1, 4]
    )
    reader = vtk.vtkXMLPolyDataReader()
    reader.SetFileName(
        str(write_vtp(tmp_path / "w.vtp", np.array([[0, 1, 2], [3, 1, 2]]), np.array([0.5, 1.5])))
    )
    reader.Update()
    poly = reader.GetOutput()
    assert poly.GetNumberOfPoints() == 2 and poly.GetNumberOfVerts() == 2
    assert np.array_equal(vtk_to_numpy(poly.GetPoints().GetData()), [[2, 1, 0], [2, 1, 3]])
    assert np.array_equal(vtk_to_numpy(poly.GetPointData().GetArray("value")), [0.5, 1.5])


# --- GeoTIFF (rasterio, in the dev extra) -------------------------------------------------------------
def test_geotiff_round_trip_georeferencing_and_the_command_line(tmp_path, capsys):
    """Bands read back bit for bit by rasterio (the GDAL reader GIS tools use), row 0 at the north
    edge of the given origin and cell, the CRS kept, NaN as nodata; blocks refused in one line."""
    import rasterio

    from genzoo.cli import main
    from genzoo.geostat.formats import read_geotiff, write_geotiff

    rng = np.random.default_rng(0)
    fields = rng.standard_normal((2, 1, 5, 7))
    fields[1, 0, 2, 3] = np.nan
    path = write_geotiff(
        tmp_path / "f.tif", fields, cell=25.0, origin=(500000.0, 4600000.0), crs="EPSG:32631"
    )
    back = read_geotiff(path)
    assert back.shape == (2, 5, 7) and np.array_equal(back, fields[:, 0], equal_nan=True)
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 32631 and src.res == (25.0, 25.0)
        assert src.xy(0, 0) == (
            500012.5,
            4600000.0 + 5 * 25.0 - 12.5,
        )  # row 0, col 0: the north-west cell's centre
        assert np.isnan(src.nodata)
    with pytest.raises(GenzooError, match=r"GeoTIFF holds 2-D grids .*\(write blocks as .vti or GSLIB\)"):
        write_geotiff(tmp_path / "b.tif", np.zeros((1, 1, 2, 3, 4)))
    out = tmp_path / "sim.tif"
    assert main(["simulate", "fft", "--range", "3", "--shape", "12", "10", "-n", "3", "--out", str(out)]) == 0
    assert read_geotiff(out).shape == (3, 12, 10)
    capsys.readouterr()
