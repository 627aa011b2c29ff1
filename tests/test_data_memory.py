"""Data held compactly: 8-bit images as bytes converted per batch, `npy:` files memory-mapped, and
folders read from disk by loader workers as training goes — each giving exactly the values and
batches that float32 data in memory give (checked against eager float references)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import genzoo
from genzoo.data import base, files, load
from genzoo.data.base import BYTES, Coding, DataInfo, Dataset
from genzoo.data.images import mnist_arrays
from genzoo.errors import GenzooError


def write_folder(root, n, shape=(12, 10), classes=2, mode="L"):
    """n images in `classes` subfolders; their uint8 arrays in the folder's (sorted) order."""
    rng = np.random.default_rng(1)
    arrays = []
    for c in range(classes):
        (root / f"c{c}").mkdir(parents=True, exist_ok=True)
        for i in range(n // classes):
            a = rng.integers(0, 256, shape if mode == "L" else (*shape, 3), dtype=np.uint8)
            Image.fromarray(a, mode).save(root / f"c{c}" / f"{i:03d}.png")
            arrays.append(a)
    return arrays


def float_twin(ds: Dataset) -> Dataset:
    """The same examples as one float32 tensor in memory (the previous way of holding them)."""
    return Dataset(ds.x.clone(), ds.info, ds.y, pair=ds.pair, augment=ds.augment, log_density=ds.log_density)


def test_mnist_is_held_as_bytes_and_seen_as_before():
    x, y = mnist_arrays()
    for split in ("train", "test"):
        ds = load("mnist", split=split)
        assert ds.store.dtype == torch.uint8 and ds.coding == BYTES
        assert ds.nbytes < 0.26 * (len(ds) * 784 * 4 + ds.y.nbytes)  # a quarter of float32's, and labels
        reference = torch.from_numpy(x).float().view(-1, 1, 28, 28) / 255
        # the examples are mnist's bytes / 255, each one some row of the reference
        rows = {bytes(r.numpy()) for r in reference.flatten(1)}
        assert all(bytes(r.numpy()) in rows for r in ds.x.flatten(1))
        assert ds.x.dtype == torch.float32 and float(ds.x.max()) == 1.0
    # the options that change values give what the eager float operations give, to the bit
    plain = load("mnist").x
    assert torch.equal(load("mnist", range="-1,1").x, -1.0 + (plain - 0.0) * 2.0 / 1.0)
    assert torch.equal(load("mnist", binarize="static").x, (plain > 0.5).float())
    excluded = load("mnist", exclude=(3, 5))
    keep = ~torch.isin(load("mnist").y, torch.tensor([3, 5]))
    assert torch.equal(excluded.x, plain[keep]) and excluded.store.dtype == torch.uint8


@pytest.mark.parametrize("opts", [{}, {"flip": True, "shift": 2}, {"binarize": "dynamic"}, {"range": "-1,1"}])
def test_batches_from_bytes_equal_batches_from_floats(opts):
    ds = load("textures", n=20, patch=16, **opts)
    twin = float_twin(ds)
    assert ds.store.dtype == torch.uint8 and twin.store.dtype == torch.float32
    for seed in range(3):
        index = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:17]
        a = ds.batch(index, torch.Generator().manual_seed(seed))
        b = twin.batch(index, torch.Generator().manual_seed(seed))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(ds[5][0], twin[5][0]) and torch.equal(ds.subset(torch.arange(4)).x, twin.x[:4])


def test_folder_in_memory_and_from_disk_give_the_same_examples(tmp_path, capsys):
    arrays = write_folder(tmp_path, 20, mode="RGB")
    every = load(f"folder:{tmp_path}", split="all")
    assert every.store.dtype == torch.uint8 and every.info.shape == (3, 12, 10)
    expected = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 255
    assert torch.equal(every.x, expected)
    capsys.readouterr()
    for split in ("train", "test", "all"):
        memory = load(f"folder:{tmp_path}", split=split)
        disk = load(f"folder:{tmp_path}", split=split, stream="disk")
        assert disk.on_disk and disk.nbytes < 1000 and not memory.on_disk
        assert torch.equal(disk.x, memory.x) and torch.equal(disk.y, memory.y)
        index = torch.tensor([3, 0, 3, len(memory) - 1])
        a, b = disk.batch(index), memory.batch(index)
        assert all(torch.equal(a[k], b[k]) for k in a)
    said = capsys.readouterr().err
    assert said.count("read from disk as training goes (2 worker processes)") == 3
    assert "20 images, 0.0 GiB decoded" in said


def test_a_folder_larger_than_half_the_memory_is_read_from_disk(tmp_path, monkeypatch):
    write_folder(tmp_path, 10)
    assert not load(f"folder:{tmp_path}").on_disk
    monkeypatch.setattr(files, "memory_bytes", lambda: 2 * 10 * 120 - 2)  # 10 images of 120 bytes
    assert load(f"folder:{tmp_path}").on_disk
    assert not load(f"folder:{tmp_path}", stream="memory").on_disk


def _train(data, out, steps, resume=False, batch_size=6, where="auto"):
    """The trained weights (the networks' parameters: the batches decide them)."""
    model = genzoo.models.create("ae", data, seed=0, hidden=(16,))
    run = genzoo.train(
        model,
        data,
        steps=steps,
        batch_size=batch_size,
        out=out,
        resume=resume,
        progress=False,
        sample_grid=False,
        threads=1,
        checkpoint_every=3,
        data_on_device=where,
    )
    return {k: v.detach().clone() for k, v in run.model.named_parameters()}


def _differ(a, b):
    return [k for k in a if not torch.equal(a[k], b[k])]


def test_training_from_disk_with_workers_equals_training_from_memory(tmp_path):
    write_folder(tmp_path / "imgs", 20)
    path = f"folder:{tmp_path / 'imgs'}"
    memory = load(path, flip=True, shift=1)
    disk = load(path, flip=True, shift=1, stream="disk", workers=2)
    # 16 training images, 2 batches of 6 an epoch: 7 steps cross 3 epochs; the resume is mid-epoch
    a = _train(memory, tmp_path / "a", 7)
    b = _train(disk, tmp_path / "b", 7)
    assert not _differ(a, b)
    _train(disk, tmp_path / "c", 4)
    c = _train(disk, tmp_path / "c", 7, resume=True)
    assert not _differ(a, c)


def test_the_loader_gives_the_batch_order_of_memory_across_epochs_and_a_resume(tmp_path):
    from genzoo.training.trainer import _Batches

    write_folder(tmp_path, 30)
    memory = load(f"folder:{tmp_path}", flip=True, binarize="dynamic")
    disk = load(f"folder:{tmp_path}", flip=True, binarize="dynamic", stream="disk", workers=2)
    m, d = _Batches(memory, 5, seed=3), _Batches(disk, 5, seed=3)
    assert d.prefetch is not None and m.prefetch is None
    for step in range(17):  # 24 training images: 4 batches an epoch, 4 epochs and a bit
        if step == 9:  # a resume mid-epoch: the state of the memory order, loaded into a new disk one
            d.close()
            d = _Batches(disk, 5, seed=99)
            d.load(m.state())
        a, b = m.next(), d.next()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), step
    d.close()


def test_a_truncated_file_met_during_training_is_named_in_one_line(tmp_path):
    write_folder(tmp_path, 10, classes=1)
    bad = tmp_path / "c0" / "003.png"
    bad.write_bytes(bad.read_bytes()[:60])  # the header still reads: found only when decoded
    with pytest.raises(
        GenzooError, match=r"cannot read 1 of the 10 images.*003\.png \(image file is truncated\)"
    ):
        load(f"folder:{tmp_path}", split="all")  # in memory: every image is decoded at once
    for workers in (0, 2):
        disk = load(f"folder:{tmp_path}", split="all", stream="disk", workers=workers)
        with pytest.raises(GenzooError, match=r"003\.png") as err:
            _train(disk, None, 6)
        assert "\n" not in str(err.value) and "Traceback" not in str(err.value)


def test_npy_is_memory_mapped_and_read_per_batch(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (50, 9, 7), dtype=np.uint8)
    points = rng.normal(size=(40, 3))  # float64: float32 per batch, rounded as astype rounds
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "points.npy", points)
    ds = load(f"npy:{tmp_path / 'images.npy'}", split="all")
    assert isinstance(ds.store, np.memmap) and ds.coding == BYTES
    assert ds.nbytes == 50 * 8  # only the split's row numbers are held
    assert torch.equal(ds.x, torch.from_numpy(images).float()[:, None] / 255)
    p = load(f"npy:{tmp_path / 'points.npy'}")
    assert isinstance(p.store, np.memmap) and p.coding.trivial and p.rows is not None
    every = torch.from_numpy(points.astype(np.float32))
    assert torch.equal(p.x, every[p.rows]) and torch.equal(
        p.batch(torch.tensor([2, 1]))["x"], every[p.rows[[2, 1]]]
    )
    # an .npy file larger than half the memory is mapped, not refused; an .npz is still refused
    monkeypatch.setattr(files, "memory_bytes", lambda: 1000)
    assert len(load(f"npy:{tmp_path / 'points.npy'}", split="all")) == 40
    np.savez(tmp_path / "points.npz", x=points)
    with pytest.raises(GenzooError, match="more than half this machine's memory"):
        load(f"npz:{tmp_path / 'points.npz'}")


def test_streamed_data_show_an_even_spread_of_their_examples(tmp_path, monkeypatch):
    np.save(tmp_path / "p.npy", np.arange(300, dtype=np.float32).reshape(100, 3))
    ds = load(f"npy:{tmp_path / 'p.npy'}", split="all")
    assert not ds.streamed and len(ds.x) == 100
    monkeypatch.setattr(base, "STREAMED_BYTES", 1199)  # 1,200 bytes as float32: more
    monkeypatch.setattr(base, "STATISTICS_BYTES", 11 * 12)  # 11 examples of 12 bytes
    monkeypatch.setattr(base, "STATISTICS_EXAMPLES", (5, 50))
    assert not load("ring8").streamed  # float32 in memory: never
    ds = load(f"npy:{tmp_path / 'p.npy'}", split="all")
    assert ds.streamed and len(ds) == 100
    spread = [0, 10, 20, 30, 40, 50, 59, 69, 79, 89, 99]  # round(k · 99/10), the first and the last
    assert ds.x[:, 0].tolist() == [3.0 * k for k in spread]
    assert len(ds.tensors()) == 11 and torch.equal(
        ds.batch(torch.tensor([99]))["x"], torch.tensor([[297.0, 298, 299]])
    )
    monkeypatch.setattr(base, "STATISTICS_EXAMPLES", (5, 8))  # at most 8
    assert len(ds.x) == 8 and ds.x[-1, 0] == 297.0


def test_coding_is_the_eager_arithmetic():
    codes = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    v = codes.float() / 255
    assert torch.equal(BYTES(codes), v)
    assert torch.equal(Coding(divisor=255.0, threshold=True)(codes), (v > 0.5).float())
    assert torch.equal(Coding(divisor=255.0, rescale=(0.0, 1.0, -1.0, 1.0))(codes), -1 + (v - 0) * 2 / 1)
    info = DataInfo("codes", "image", (1, 16, 16), (0.0, 1.0))
    ds = Dataset(codes, info, coding=BYTES)
    assert ds.nbytes == 256 and torch.equal(ds.x, v) and len(ds) == 1
    with pytest.raises(IndexError):
        ds[1]


def _run(data, out, steps, where, resume=False):
    return _train(data, out, steps, resume, batch_size=32, where=where)


def test_data_held_on_the_device_train_alike_and_resume_exactly(tmp_path):
    """train.data_on_device=on (here the device is the CPU): batches indexed where the data are held,
    their draws from that device's own generator, which the checkpoint keeps."""
    from genzoo.training import checkpoint as ckpt

    plain = load("digits")
    assert not _differ(_run(plain, None, 6, "on"), _run(plain, None, 6, "off"))  # no draws: the same
    drawn = load("digits", flip=True, shift=1, binarize="dynamic")
    a = _run(drawn, tmp_path / "a", 7, "on")
    assert _differ(a, _run(drawn, None, 7, "off"))  # another generator's draws
    assert "draws" in ckpt.load_state(tmp_path / "a" / ckpt.STATE)["batches"]
    _run(drawn, tmp_path / "b", 4, "on")
    assert not _differ(a, _run(drawn, tmp_path / "b", 7, "on", resume=True))


def test_only_data_in_memory_move_to_the_device(tmp_path):
    write_folder(tmp_path, 10)
    disk = load(f"folder:{tmp_path}", stream="disk", workers=0)
    with pytest.raises(GenzooError, match="is read on disk; only data in memory can move to cpu"):
        _run(disk, None, 1, "on")
    assert len(_run(disk, None, 1, "auto")) > 0  # auto on the CPU: the data stay where they are
