"""Augmentation of training batches (data.flip, data.shift): each example is its original flipped
or not and translated by at most `shift` pixels with replicated edges (checked against every
candidate by brute force); held-out data never change; a paired input moves with its target; the
draws come from the batch generator, so a resumed run ends with an uninterrupted one's weights."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import genzoo
from genzoo.errors import GenzooError


def _candidates(img: torch.Tensor, shift: int) -> list[torch.Tensor]:
    """Every flip × translation of one image (C, H, W), edges replicated, by plain slicing."""
    h, w = img.shape[1:]
    out = []
    for flipped in (img, img.flip(-1)):
        padded = F.pad(flipped[None], (shift,) * 4, mode="replicate")[0]
        for dy in range(-shift, shift + 1):
            for dx in range(-shift, shift + 1):
                out.append(padded[:, shift + dy : shift + dy + h, shift + dx : shift + dx + w])
    return out


def test_each_example_is_a_flip_and_shift_of_its_original():
    data = genzoo.datasets.load("digits", split="train", flip=True, shift=2)
    plain = genzoo.datasets.load("digits", split="train")
    assert torch.equal(data.x, plain.x) and torch.equal(data.tensors(), plain.tensors())  # stored as is
    idx = torch.arange(40)
    batch = data.batch(idx, generator=torch.Generator().manual_seed(0))["x"]
    moved = 0
    for i in idx.tolist():
        options = _candidates(plain.x[i], 2)
        assert any(torch.equal(batch[i], c) for c in options), i
        moved += not torch.equal(batch[i], plain.x[i])
    assert moved > 30  # 1 in 50 stays put by chance
    again = data.batch(idx, generator=torch.Generator().manual_seed(0))["x"]
    assert torch.equal(batch, again)


def test_paired_inputs_move_with_their_targets():
    data = genzoo.datasets.load("mnist-sr", split="test", flip=True, shift=3)
    b = data.batch(torch.arange(16), generator=torch.Generator().manual_seed(1))
    for i in range(16):
        options_x = _candidates(data.x[i], 3)
        options_p = _candidates(data.pair[i], 3)
        hits = [k for k, c in enumerate(options_x) if torch.equal(b["x"][i], c)]
        assert any(torch.equal(b["pair"][i], options_p[k]) for k in hits), i


def test_a_resumed_augmented_run_ends_where_an_uninterrupted_one_does(tmp_path):
    data = genzoo.datasets.load("digits", split="train", flip=True, shift=1)

    def run(out, steps, resume=False):
        model = genzoo.models.create("ae", data, seed=0, hidden=(32,))
        return genzoo.train(
            model,
            data,
            steps=steps,
            batch_size=32,
            out=out,
            resume=resume,
            progress=False,
            sample_grid=False,
            threads=1,
            checkpoint_every=5,
        )

    straight = run(tmp_path / "a", 10).model.state_dict()
    run(tmp_path / "b", 5)
    resumed = run(tmp_path / "b", 10, resume=True).model.state_dict()
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    plain = genzoo.datasets.load("digits", split="train")
    model = genzoo.models.create("ae", plain, seed=0, hidden=(32,))
    unaugmented = genzoo.train(model, plain, steps=10, batch_size=32, progress=False, threads=1).model
    assert any(not torch.equal(straight[k], v) for k, v in unaugmented.state_dict().items())


def test_augmentation_is_for_images():
    for kwargs, match in (
        ({"name": "ring8", "flip": True}, r"data.flip: augmentation is for images \(ring8 is points data\)"),
        ({"name": "grf", "shift": 2}, r"data.shift: augmentation is for images"),
        ({"name": "digits", "shift": 8}, r"data.shift=8: more than the 8×8 images allow"),
    ):
        name = kwargs.pop("name")
        with pytest.raises(GenzooError, match=match) as err:
            genzoo.datasets.load(name, split="train", **kwargs)
        assert "\n" not in str(err.value)
