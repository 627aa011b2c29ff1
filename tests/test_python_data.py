"""Data handed over from Python (genzoo.data.python.as_dataset): tensors, arrays, (x, y) pairs and
map-style PyTorch datasets become a Dataset with the kind, range and classes the npy: files get,
said in one line; genzoo's Dataset is itself a map-style dataset a DataLoader takes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import genzoo
from genzoo.data.python import as_dataset
from genzoo.errors import GenzooError


class FolderLike(torch.utils.data.Dataset):
    """What a torchvision ImageFolder without transforms gives: (PIL image, class index)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return Image.fromarray(self.images[i]), int(self.labels[i])


def test_tensors_arrays_and_pairs_are_inferred_like_npy_files(capsys):
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (12, 8, 8), dtype=np.uint8)
    ds = as_dataset(grey)
    assert ds.info.kind == "image" and ds.info.shape == (1, 8, 8) and ds.info.value_range == (0.0, 1.0)
    assert torch.equal(ds.x[:, 0], torch.from_numpy(grey).float() / 255)
    assert capsys.readouterr().err.strip() == "genzoo: a ndarray: 12 images 1×8×8 in [0, 1]"
    pts = torch.randn(30, 2) * 5
    ds = as_dataset(pts)
    assert ds.info.kind == "points" and torch.equal(ds.x, pts) and ds.info.value_range[0] == -float("inf")
    assert "30 points in 2-D, unbounded" in capsys.readouterr().err
    y = torch.arange(12) % 3
    ds = as_dataset((torch.from_numpy(grey).float()[:, None] / 255, y))
    assert ds.info.num_classes == 3 and torch.equal(ds.y, y) and ds.info.kind == "image"
    assert "12 images 1×8×8 in [0, 1], 3 classes" in capsys.readouterr().err
    field = rng.normal(size=(5, 1, 6, 6))
    assert as_dataset(field, say=False).info.kind == "field"
    assert as_dataset(ds) is ds  # a Dataset as it is


def test_a_map_style_dataset_of_pil_images_is_read_in_order():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (7, 6, 5, 3), dtype=np.uint8)
    labels = np.array([0, 1, 1, 0, 2, 2, 1])
    ds = as_dataset(FolderLike(rgb, labels), say=False)
    assert ds.info.shape == (3, 6, 5) and ds.info.num_classes == 3
    assert torch.equal(ds.x, torch.from_numpy(np.moveaxis(rgb, -1, 1)).float() / 255)
    assert ds.y.tolist() == labels.tolist()
    ragged = FolderLike([rgb[0], rgb[1][:4]], labels[:2])
    with pytest.raises(GenzooError, match=r"item 1 has shape \(3, 4, 5\), item 0 \(3, 6, 5\)") as err:
        as_dataset(ragged, say=False)
    assert "\n" not in str(err.value)
    for bad, match in (
        ("mnist", r"data: a str; give a genzoo Dataset"),
        (torch.zeros(5), r"rank 1"),
        (np.array([[np.nan, 1.0]]), r"NaN or infinite"),
        ((torch.zeros(4, 2), torch.tensor([0, 1, -1, 0])), r"labels y must be non-negative integers"),
    ):
        with pytest.raises(GenzooError, match=match) as err:
            as_dataset(bad, say=False)
        assert "\n" not in str(err.value)


def test_genzoo_datasets_plug_into_a_dataloader():
    data = genzoo.datasets.load("digits", split="test")
    x, y = data[3]
    assert torch.equal(x, data.x[3]) and int(y) == int(data.y[3]) and len(data) == len(data.x)
    xb, yb = next(iter(torch.utils.data.DataLoader(data, batch_size=5)))
    assert torch.equal(xb, data.x[:5]) and torch.equal(yb, data.y[:5])
    ring = genzoo.datasets.load("ring8", split="test", labels=False)
    assert torch.equal(ring[0], ring.x[0])  # unlabelled: the example alone
    pairs = genzoo.datasets.load("mnist-sr", split="test")
    inp, target = pairs[0]
    assert torch.equal(inp, pairs.pair[0]) and torch.equal(target, pairs.x[0])


def test_create_and_train_take_a_tensor_and_say_it_once(tmp_path, capsys):
    x = torch.rand(64, 1, 8, 8)
    model = genzoo.models.create("vae", x, seed=0, arch="mlp")
    run = genzoo.train(model, x, steps=2, progress=False, sample_grid=False, out=tmp_path / "run")
    said = capsys.readouterr().err
    assert said.count("genzoo: a Tensor: 64 images 1×8×8 in [0, 1]") == 1, said
    assert run.step == 2 and run.model.sample(3).shape == (3, 1, 8, 8)
    loaded = genzoo.load(tmp_path / "run")
    assert loaded.info.shape == (1, 8, 8)
