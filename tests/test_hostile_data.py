"""Hostile files given as data: each is skipped with a warning naming it or refused with a
one-line GenzooError naming it (the promise of src/genzoo/data/files.py's docstring), never a
traceback, never code run. HOSTILE counts the hostile inputs these tests try."""

from __future__ import annotations

import io
import pickle
import struct
import warnings
import zipfile
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

import genzoo
from genzoo.data import files
from genzoo.errors import GenzooError

load = genzoo.datasets.load
HOSTILE: list[str] = []  # one entry per hostile input tried


def hostile(name: str) -> str:
    HOSTILE.append(name)
    return name


def png_bytes(arr: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    img = Image.fromarray(arr)
    (img.convert(mode) if mode else img).save(buf, "PNG")
    return buf.getvalue()


def bomb_png(width: int, height: int) -> bytes:
    """A valid PNG header claiming width×height pixels, with almost no data behind it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def good_images(folder, n=5, shape=(6, 5)):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        (folder / f"good{i}.png").write_bytes(png_bytes(rng.integers(0, 256, shape, dtype=np.uint8)))


def refused(name: str, needle: str, **options) -> GenzooError:
    with pytest.raises(GenzooError) as err:
        load(name, split="all", **options)
    message = str(err.value)
    assert needle in message, message
    assert "\n" not in message
    return err.value


# ---------------------------------------------------------------- folder:PATH: bad image files

HALF_PNG = png_bytes(np.random.default_rng(1).integers(0, 256, (64, 64), dtype=np.uint8))
BAD_IMAGES = {
    # file name: (bytes, the reason given)
    "truncated.png": (HALF_PNG[: len(HALF_PNG) // 2], "truncated"),
    "empty.png": (b"", "empty file"),
    "empty.jpg": (b"", "empty file"),
    "garbage.png": (b"\x89PNG\r\n\x1a\n not really a png", "not a PNG or JPEG image"),
    "text.jpeg": (b"hello, world\n", "not a PNG or JPEG image"),
    "bomb.png": (bomb_png(100_000, 100_000), "decompression bomb"),  # above Pillow's own hard limit
    "bomb9000.png": (
        bomb_png(9000, 9000),
        "claims 9000×9000 pixels, more than genzoo's limit",
    ),  # under Pillow's, above genzoo's limit
    "zero-size.png": (bomb_png(0, 0), "not a PNG or JPEG image"),
}


def _gif() -> bytes:
    buf = io.BytesIO()
    Image.new("L", (5, 6)).save(buf, "GIF")
    return buf.getvalue()


BAD_IMAGES["gif-inside.png"] = (_gif(), "not a PNG or JPEG image")  # only PNG/JPEG decoders run


@pytest.mark.parametrize("file", sorted(BAD_IMAGES))
def test_each_bad_image_is_refused_by_name(tmp_path, file):
    data, reason = BAD_IMAGES[file]
    good_images(tmp_path)
    (tmp_path / hostile(file)).write_bytes(data)
    err = refused(f"folder:{tmp_path}", file)
    assert reason in str(err) and "1 of the 6 images" in str(err)
    for split in ("train", "test"):  # whichever split is asked for: same files, same refusal
        with pytest.raises(GenzooError, match=file.replace(".", r"\.")):
            load(f"folder:{tmp_path}", split=split)


def test_every_bad_image_is_named_at_once(tmp_path):
    good_images(tmp_path, 2)
    for file, (data, _) in BAD_IMAGES.items():
        (tmp_path / hostile(file)).write_bytes(data)
    err = str(refused(f"folder:{tmp_path}", f"{len(BAD_IMAGES)} of the {len(BAD_IMAGES) + 2} images"))
    assert f"and {len(BAD_IMAGES) - 3} more" in err


def test_a_folder_of_nothing_loadable(tmp_path):
    for file, (data, _) in BAD_IMAGES.items():
        (tmp_path / hostile(file)).write_bytes(data)
    refused(f"folder:{tmp_path}", "cannot read")
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / hostile("notes.txt")).write_text("x")
    np.save(tmp_path / "only" / hostile("arr.npy"), np.zeros(3))
    refused(f"folder:{tmp_path / 'only'}", "no PNG or JPEG images")


def test_bombs_are_refused_before_decoding(tmp_path, monkeypatch):
    """The header's size is checked first: Pillow's decoder never runs on a bomb, and Pillow's
    own DecompressionBombWarning is a refusal too."""
    good_images(tmp_path, 1)
    (tmp_path / hostile("bomb.png")).write_bytes(bomb_png(9000, 9000))
    decoded = []
    real_load = Image.Image.load
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self.size) or real_load(self))
    refused(f"folder:{tmp_path}", "bomb.png (its header claims 9000×9000 pixels")
    assert (9000, 9000) not in decoded
    monkeypatch.setattr(files, "MAX_IMAGE_PIXELS", 10**9)  # genzoo's limit lifted: Pillow's warning
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the warning must not escape either
        refused(f"folder:{tmp_path}", "decompression bomb")


# ---------------------------------------------------------------- folder:PATH: skipped files


def test_non_image_files_are_skipped_and_named(tmp_path):
    good_images(tmp_path)
    (tmp_path / hostile("notes.txt")).write_text("not an image")
    np.save(tmp_path / hostile("arr.npy"), np.zeros((5, 6)))
    (tmp_path / hostile("noext")).write_bytes(HALF_PNG)
    (tmp_path / hostile(".DS_Store")).write_bytes(b"\0\0\0\1Bud1")  # hidden: skipped silently
    (tmp_path / hostile("sub")).mkdir()  # a folder beside images: ignored
    with pytest.warns(
        UserWarning, match=r"skipped 3 files that are not \.png/\.jpg/\.jpeg: arr\.npy, noext, notes\.txt$"
    ):
        ds = load(f"folder:{tmp_path}", split="all")
    assert len(ds) == 5


def test_the_cli_says_what_it_skipped_in_one_line(tmp_path, capsys):
    from genzoo.cli import main

    data = tmp_path / "data"
    good_images(data)
    (data / "notes.txt").write_text("not an image")
    assert main(["train", "kde", "--data", f"folder:{data}", "--out", str(tmp_path / "run"), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"genzoo: warning: folder:{data}: skipped 1 file that is not .png/.jpg/.jpeg: notes.txt"
    ]


def test_skipped_files_in_class_folders(tmp_path):
    good_images(tmp_path / "a", 3)
    good_images(tmp_path / "b", 3)
    (tmp_path / hostile("README.md")).write_text("# my data")
    (tmp_path / "b" / hostile("labels.csv")).write_text("1,2")
    with pytest.warns(UserWarning, match=r"skipped 2 files .*README\.md, b/labels\.csv"):
        ds = load(f"folder:{tmp_path}", split="all")
    assert ds.y.tolist() == [0, 0, 0, 1, 1, 1]


def test_special_files_are_never_opened(tmp_path):
    import os

    good_images(tmp_path, 3)
    os.mkfifo(tmp_path / hostile("fifo.png"))  # opening it would block for ever
    (tmp_path / hostile("dangling.png")).symlink_to(tmp_path / "missing.png")
    with pytest.warns(UserWarning, match="skipped 2 files .*dangling.png, fifo.png"):
        assert len(load(f"folder:{tmp_path}", split="all")) == 3


def test_control_characters_in_names_stay_on_one_line(tmp_path):
    good_images(tmp_path, 2)
    (tmp_path / hostile("evil\nname.png")).write_bytes(b"")
    refused(f"folder:{tmp_path}", r"evil\nname.png' (empty file)")


# ---------------------------------------------------------------- folder:PATH: modes


MODES = {
    # mode: (grey?, a 6×5 image in that mode)
    "1": (True, Image.fromarray(np.eye(6, 5, dtype=bool))),
    "L": (True, Image.fromarray(np.full((6, 5), 128, np.uint8))),
    "LA": (True, Image.fromarray(np.full((6, 5, 2), 128, np.uint8), "LA")),
    "I;16": (True, Image.fromarray(np.full((6, 5), 32768, np.uint16))),
    "RGB": (False, Image.fromarray(np.full((6, 5, 3), (255, 0, 0), np.uint8))),
    "RGBA": (False, Image.fromarray(np.full((6, 5, 4), (0, 255, 0, 0), np.uint8))),
    "P": (False, Image.fromarray(np.full((6, 5, 3), (0, 0, 255), np.uint8)).convert("P")),
}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_each_mode_is_converted(tmp_path, mode):
    grey, img = MODES[mode]
    hostile(f"mode {mode}")
    img.save(tmp_path / "a.png")
    ds = load(f"folder:{tmp_path}", split="all")
    assert ds.info.shape == ((1, 6, 5) if grey else (3, 6, 5))
    assert 0 <= float(ds.x.min()) and float(ds.x.max()) <= 1
    if mode == "I;16":  # 16 bits kept: 32768/65535, in grey and (not clipped to white) in colour
        assert abs(float(ds.x.mean()) - 0.5) < 1e-3
        assert abs(float(load(f"folder:{tmp_path}", split="all", channels=3).x.mean()) - 0.5) < 1e-3
    if mode == "RGBA":  # alpha dropped: the stored colour, not the transparency
        assert ds.x[0, :, 0, 0].tolist() == [0.0, 1.0, 0.0]
    if mode == "P":  # palette expanded
        assert ds.x[0, :, 0, 0].tolist() == [0.0, 0.0, 1.0]


def test_mixed_modes_in_one_folder(tmp_path):
    for mode, (_, img) in MODES.items():
        img.save(tmp_path / f"{mode.replace(';', '_')}.png")
    ds = load(f"folder:{tmp_path}", split="all")  # any colour image makes the data RGB
    assert ds.info.shape == (3, 6, 5) and len(ds) == len(MODES)
    assert load(f"folder:{tmp_path}", split="all", channels=1).info.shape == (1, 6, 5)
    for mode in ("RGB", "RGBA", "P"):
        (tmp_path / f"{mode}.png").unlink()
    assert load(f"folder:{tmp_path}", split="all").info.shape == (1, 6, 5)  # all grey: grey


# ---------------------------------------------------------------- npy:PATH, npz:PATH

UNPICKLED: list[int] = []


def _record():
    UNPICKLED.append(1)
    return 0


class Trap:
    def __reduce__(self):
        return (_record, ())


def npy_bytes(arr: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def npy_header(shape, descr="<f8") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


GOOD = npy_bytes(np.arange(24, dtype=np.float32).reshape(6, 4))
BAD_ARRAYS = {
    # name: (bytes, the message)
    "object.npy": (npy_bytes(np.array([Trap(), Trap()], dtype=object), allow_pickle=True), "pickled"),
    "pickle.npy": (pickle.dumps(Trap()), "pickled"),
    "pickle0.npy": (pickle.dumps([1, 2], protocol=0), "not a .npy or .npz file"),
    "truncated.npy": (GOOD[: len(GOOD) - 10], "truncated"),
    "header-only.npy": (GOOD[:20], "not a valid .npy header"),
    "empty.npy": (b"", "empty file"),
    "text.npy": (b"1,2,3\n4,5,6\n", "not a .npy or .npz file"),
    "png.npy": (HALF_PNG, "not a .npy or .npz file"),
    "huge-claim.npy": (npy_header((10**12,)) + b"\0" * 64, "truncated"),
    "bad-header.npy": (b"\x93NUMPY\x01\x00\x10\x00{'descr': os}   \n", "not a valid .npy header"),
    "version9.npy": (b"\x93NUMPY\x09\x00" + GOOD[8:], "not a valid .npy header"),
    "rank1.npy": (npy_bytes(np.zeros(10)), "rank 1"),
    "rank5.npy": (npy_bytes(np.zeros((2, 1, 1, 1, 1))), "rank 5"),
    "strings.npy": (npy_bytes(np.array([["a", "b"]])), "dtype <U1"),
    "complex.npy": (npy_bytes(np.zeros((2, 2), complex)), "dtype complex128"),
    "struct.npy": (npy_bytes(np.zeros((2, 2), [("a", "f4")])), "expected numbers"),
    "nan.npy": (npy_bytes(np.array([[0.0, np.nan], [1.0, 2.0]])), "1 values are NaN or infinite"),
    "inf.npy": (npy_bytes(np.array([[0.0, np.inf], [-np.inf, 2.0]])), "2 values are NaN or infinite"),
    "f32-overflow.npy": (npy_bytes(np.array([[1e300, 0.0]])), "beyond float32's range"),
    "no-examples.npy": (npy_bytes(np.zeros((0, 3))), "no examples"),
    "channels-last.npy": (npy_bytes(np.zeros((2, 8, 8, 3))), "8 channels on axis 1"),
    "empty-axis.npy": (npy_bytes(np.zeros((3, 0))), "empty axis"),
}


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


x4 = np.zeros((4, 3), np.float32)
BAD_ARRAYS.update(
    {
        "object-y.npz": (
            zip_bytes({"x.npy": npy_bytes(x4), "y.npy": npy_bytes(np.array([Trap()] * 4, object), True)}),
            "pickled",
        ),
        "pickle-member.npz": (zip_bytes({"x.npy": pickle.dumps(Trap())}), "not a .npy array inside the .npz"),
        "raw-member.npz": (zip_bytes({"x": b"just bytes"}), "not a .npy array inside the .npz"),
        "truncated-member.npz": (zip_bytes({"x.npy": GOOD[:-10]}), "truncated"),
        "huge-member.npz": (zip_bytes({"x.npy": npy_header((10**6, 10**6)) + b"\0" * 64}), "truncated"),
        "truncated.npz": (npz_bytes(x=x4)[:40], "cannot read"),
        "not-a-zip.npz": (b"PK\x03\x04 not a zip", "cannot read"),
        "empty-zip.npz": (zip_bytes({}), "no array named 'x' among no arrays"),
        "two-arrays.npz": (npz_bytes(a=x4, b=x4), "no array named 'x' among a, b"),
        "nan-x.npz": (npz_bytes(x=np.full((4, 3), np.nan)), "12 values are NaN"),
        "float-y.npz": (npz_bytes(x=x4, y=np.zeros(4)), "non-negative integers"),
        "negative-y.npz": (npz_bytes(x=x4, y=-np.ones(4, int)), "non-negative integers"),
        "huge-y.npz": (npz_bytes(x=x4, y=np.full(4, 2**40)), "classes 0..65535"),
        "short-y.npz": (npz_bytes(x=x4, y=np.zeros(3, int)), "labels y have shape (3,)"),
    }
)


@pytest.mark.parametrize("file", sorted(BAD_ARRAYS))
def test_each_bad_array_file_is_refused_by_name(tmp_path, file):
    data, message = BAD_ARRAYS[file]
    path = tmp_path / hostile(file)
    path.write_bytes(data)
    prefix = "npz" if file.endswith(".npz") else "npy"
    err = refused(f"{prefix}:{path}", message)
    assert str(path) in str(err)
    assert UNPICKLED == []


def test_array_paths_that_are_not_files(tmp_path):
    for name in (hostile("missing.npy"), hostile("a" * 5000 + ".npy")):
        refused(f"npy:{tmp_path / name}", "not found" if len(name) < 100 else "cannot read")
    (tmp_path / hostile("dir.npy")).mkdir()
    refused(f"npy:{tmp_path / 'dir.npy'}", "not found")
    refused(f"npy:{hostile('~no_such_user_genzoo/x.npy')}", "not found")
    refused(f"folder:{hostile('~no_such_user_genzoo')}", "not found")
    refused(f"folder:{tmp_path / hostile('b' * 5000)}", "not found")
    refused(f"npy:{tmp_path / hostile('nul' + chr(0) + '.npy')}", r"\x00")


def test_good_arrays_still_load(tmp_path):
    (tmp_path / "g.npy").write_bytes(GOOD)
    assert load(f"npy:{tmp_path / 'g.npy'}", split="all").info.shape == (4,)
    (tmp_path / "g.npz").write_bytes(npz_bytes(x=np.zeros((10, 2, 2), np.uint8), y=np.arange(10) % 2))
    ds = load(f"npz:{tmp_path / 'g.npz'}", split="all")
    assert ds.info.shape == (1, 2, 2) and ds.info.num_classes == 2
    fortran = np.asfortranarray(np.arange(12.0).reshape(6, 2))
    np.save(tmp_path / "f.npy", fortran)
    assert load(f"npy:{tmp_path / 'f.npy'}", split="all").x.tolist() == fortran.tolist()


# --- the other files the CLI reads: --points CSV, --mask ----------------------------------------
BAD_POINTS = {
    "latin1.csv": (b"row,col,value\n1,2,caf\xe9\n", "not UTF-8 text"),
    "huge-index.csv": (b"row,col,value\n1e300,2,3\n", "row '1e300' lies outside any grid"),
    "long-field.csv": (b'row,col,value\n1,2,"' + b"9" * 200_000 + b'"\n', "not a readable CSV"),
    "nul.csv": (b"row,col,value\n1,\x002,3\n", "cannot read col"),
    "nan.csv": (b"row,col,value\n1,2,nan\n", "not a finite number"),
    "no-header.csv": (b"1,2,3\n", "missing column(s) row, col, value"),
    "binary.csv": (bytes(range(256)) * 4, "not UTF-8 text"),
}


@pytest.mark.parametrize("file", sorted(BAD_POINTS))
def test_each_bad_points_file_is_refused_by_name(tmp_path, file):
    from genzoo.geostat.latent import read_points_csv

    path = tmp_path / hostile(file)
    path.write_bytes(BAD_POINTS[file][0])
    with pytest.raises(GenzooError) as err:
        read_points_csv(path)
    message = str(err.value)
    assert BAD_POINTS[file][1] in message and str(path) in message and "\n" not in message, message


# found by `benchmarks/fuzz_loaders.py --target mask`: a zip member named mask.npy whose header
# numpy's NpzFile does not recognise, which np.load returned as raw bytes
FUZZED_MASK = bytes.fromhex(
    "504b03042d00002d00000000210068344bedffffffffffffffff080014006d61736b2e6e707901001000c00000000000"
    "0000c000000000000000934e554d5059010076007b276465736372273a20277c6231272c2027666f727472616e5f6f72"
    "646572273a2046616c73652c20277368617065273a2028382c2038292c207d2020202020202020202020203220202020"
    "20202020202020202020202020202020202020202020202020202020202020202020202020202020200a000000000000"
    "000000000000000000000101010101010101010101010101010101010101010101010000000000000000000000000000"
    "00000000000000000000504b01022d032d0000000000000000000000000000000000c000000008000000000000000000"
    "00008001000000006d61736b2e6e7079504b0506000800000100010036000000fa0000000000"
)
BAD_MASKS = {
    "pickle.npy": (npy_bytes(np.array([Trap()] * 4, object), True), "pickled"),
    "truncated.npy": (npy_bytes(np.ones((8, 8)))[:-20], "truncated"),
    "strings.npy": (npy_bytes(np.array(["a", "b"])), "expected numbers"),
    "bomb.png": (bomb_png(100_000, 100_000), "decompression bomb"),
    "text.png": (b"not a png", "not a PNG or JPEG image"),
    "empty.npz": (b"", "empty file"),
    "two.npz": (npz_bytes(a=np.ones((2, 2)), b=np.ones((2, 2))), "no array named 'mask' among a, b"),
    "fuzzed.npz": (FUZZED_MASK, "not a .npy array inside the .npz"),
}


@pytest.mark.parametrize("file", sorted(BAD_MASKS))
def test_each_bad_mask_file_is_refused_by_name(tmp_path, file):
    from genzoo.cli.condition import read_mask

    path = tmp_path / hostile(f"mask-{file}")
    path.write_bytes(BAD_MASKS[file][0])
    with pytest.raises(GenzooError) as err:
        read_mask(str(path), None)  # a file: the model is only needed for the named holes
    message = str(err.value)
    assert BAD_MASKS[file][1] in message and str(path) in message and "\n" not in message, message
    assert UNPICKLED == []


def test_good_mask_files_read_alike(tmp_path):
    from genzoo.cli.condition import read_mask

    mask = np.zeros((6, 5), bool)
    mask[1:4, 2] = True
    (tmp_path / "b.npy").write_bytes(npy_bytes(mask))
    (tmp_path / "f.npy").write_bytes(npy_bytes(mask.astype(np.float32) * 0.5))
    (tmp_path / "m.npz").write_bytes(npz_bytes(mask=mask, other=np.ones(3)))
    (tmp_path / "one.npz").write_bytes(npz_bytes(holes=mask.astype(np.uint8)))
    (tmp_path / "m.png").write_bytes(png_bytes(mask.astype(np.uint8) * 255))
    for name in ("b.npy", "f.npy", "m.npz", "one.npz", "m.png"):
        got = read_mask(str(tmp_path / name), None)
        assert got.dtype == torch.bool and torch.equal(got, torch.from_numpy(mask)), name


def test_count_of_hostile_inputs():
    """Runs last in this file (pytest keeps file order): the number reported in the issue."""
    names = set(HOSTILE)
    print(f"\n{len(names)} distinct hostile inputs tried ({len(HOSTILE)} uses)")
    assert len(names) >= 50
