"""genzoo.viz: grids, figures, sample files and the HTML report, on small stand-in models."""

from __future__ import annotations

import base64
import io
import json
import math
import re

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import genzoo
from genzoo.data.base import DataInfo, Dataset
from genzoo.errors import GenzooError
from genzoo.models.base import GenerativeModel
from genzoo.training import checkpoint as ckpt
from genzoo.viz import (
    image_grid,
    interpolate,
    interpolation_strip,
    latent_walk,
    loss_curves,
    plots,
    points_figure,
    reconstruction_grid,
    render_report,
    save_samples,
    walk,
    write_report,
)
from genzoo.viz.report import flatten, wall_time

DIGITS = DataInfo("tiny", "image", (1, 8, 8), (0.0, 1.0), num_classes=10)
SIGNED = DataInfo("signed", "image", (3, 4, 4), (-1.0, 1.0))
FIELD = DataInfo("field", "field", (1, 6, 6), (-math.inf, math.inf))
POINTS = DataInfo("ring", "points", (2,), (-math.inf, math.inf))


class LinearAE(GenerativeModel):
    """A stand-in latent model: linear encoder and decoder, z ~ N(0, I)."""

    name = "linear-ae"
    latent = True
    encodes = True
    likelihood = "bound"

    def __init__(self, info: DataInfo, latent_dim: int = 3, seed: int = 0) -> None:
        super().__init__(None, info)
        torch.manual_seed(seed)
        self.latent_dim = latent_dim
        self.enc = nn.Linear(info.dim, latent_dim)
        self.dec = nn.Linear(latent_dim, info.dim)

    def latent_shape(self) -> tuple[int, ...]:
        return (self.latent_dim,)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.enc(x.flatten(1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.dec(z).reshape(-1, *self.info.shape)

    def sample(self, n, *, generator=None, **condition):
        return self.decode(torch.randn(n, self.latent_dim, generator=generator))


class Cloud(GenerativeModel):
    """A stand-in model without a latent space (named like the KDE)."""

    name = "kde"
    likelihood = "exact"

    def __init__(self, info: DataInfo) -> None:
        super().__init__(None, info)
        self.scale = nn.Parameter(torch.ones(()))

    def sample(self, n, *, generator=None, **condition):
        return self.scale * torch.randn(n, *self.info.shape, generator=generator)


def ring(n: int = 400) -> Dataset:
    angle = torch.arange(n) % 8 * (2 * math.pi / 8)
    x = 2 * torch.stack([angle.cos(), angle.sin()], 1) + 0.02 * torch.randn(n, 2)
    return Dataset(x, POINTS)


def digits(n: int = 40) -> Dataset:
    return Dataset(torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(1)), DIGITS)


def records(n: int) -> list[dict]:
    return [
        {
            "step": 10 * (i + 1),
            "loss": 100 / (i + 1),
            "recon": 80 / (i + 1),
            "kl": 5.0,
            "lr": 1e-3,
            "steps_per_s": 50.0,
            "time": 0.2 * (i + 1),
        }
        for i in range(n)
    ]


CONFIG = {
    "genzoo_version": "0.1.0",
    "model": {"name": "linear-ae", "params": {"latent_dim": 3, "note": "<script>alert(1)</script>"}},
    "data": {"name": "no-such-dataset", "options": {"binarize": "none"}},
    "data_info": DIGITS.to_dict(),
    "train": {"steps": 30, "batch_size": 16, "lr": 1e-3, "seed": 0},
}
METRICS = {
    "metrics": {
        "nll": {"nats": 93.25, "bits_per_dim": 0.17158, "kind": "estimate"},
        "prdc": {"precision": 0.8125},
    },
    "n": 500,
    "seed": 0,
    "split": "test",
}


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image)


# --- image_grid ------------------------------------------------------------------------------
def test_image_grid_size_default_layout_and_upscaling():
    img = image_grid(torch.zeros(5, 1, 8, 8), DIGITS)  # 3 per row, 2 rows, 8 px × 6 = 48 px cells
    assert img.mode == "L"
    assert img.size == (3 * (48 + 2) + 2, 2 * (48 + 2) + 2)
    img = image_grid(torch.zeros(5, 3, 28, 28), nrow=5, pad=0, scale=1)
    assert (img.mode, img.size) == ("RGB", (140, 28))


def test_image_grid_maps_value_range_to_bytes():
    x = torch.tensor([0.0, 0.25, 1.0, 2.0]).reshape(1, 1, 1, 4)  # 2.0 is clipped
    assert pixels(image_grid(x, DIGITS, pad=0, scale=1)).tolist() == [[0, 64, 255, 255]]
    x = torch.tensor([-1.0, 0.0, 1.0]).reshape(1, 1, 1, 3).expand(1, 3, 1, 3)
    rgb = pixels(image_grid(x, SIGNED, pad=0, scale=1))
    assert rgb[0, :, 0].tolist() == [0, 128, 255] and (rgb == rgb[..., :1]).all()


def test_image_grid_uses_batch_range_for_unbounded_fields():
    x = torch.tensor([-3.0, 1.0, 5.0]).reshape(1, 1, 1, 3)
    assert pixels(image_grid(x, FIELD, pad=0, scale=1)).tolist() == [[0, 128, 255]]


def test_image_grid_nearest_upscaling_and_padding():
    x = torch.tensor([[0.0, 1.0]]).reshape(1, 1, 1, 2)
    a = pixels(image_grid(x, DIGITS, pad=1, scale=2))
    assert a.shape == (1 * 2 + 2, 2 * 2 + 2)
    assert a[1:3, 1:3].tolist() == [[0, 0], [0, 0]] and a[1:3, 3:5].tolist() == [[255, 255], [255, 255]]
    assert a[0].tolist() == [128] * 6  # the grey frame


@pytest.mark.parametrize("shape", [(0, 1, 4, 4), (2, 2, 4, 4), (2, 16)])
def test_image_grid_rejects_bad_shapes(shape):
    with pytest.raises(GenzooError, match="C = 1 or 3"):
        image_grid(torch.zeros(shape))


# --- save_samples ----------------------------------------------------------------------------
def test_save_samples_png_is_the_grid(tmp_path):
    x = torch.rand(6, 1, 8, 8)
    out = save_samples(x, DIGITS, tmp_path / "s.png")
    with Image.open(out) as img:
        assert (pixels(img) == pixels(image_grid(x, DIGITS))).all()


def test_save_samples_png_for_points_is_a_scatter(tmp_path):
    save_samples(torch.randn(200, 2), POINTS, tmp_path / "p.png")
    save_samples(
        torch.randn(200, 5), DataInfo("p5", "points", (5,), (-math.inf, math.inf)), tmp_path / "p5.png"
    )
    for name in ("p.png", "p5.png"):
        with Image.open(tmp_path / name) as img:
            assert img.format == "PNG" and img.width > 100


def test_save_samples_npy_and_npz_read_back_equal(tmp_path):
    x, y = torch.randn(7, 1, 8, 8), torch.arange(7)
    save_samples(x, DIGITS, tmp_path / "s.npy")
    back = np.load(tmp_path / "s.npy", allow_pickle=False)
    assert back.dtype == np.float32 and (back == x.numpy()).all()
    save_samples(x, DIGITS, tmp_path / "s.npz", y=y)
    with np.load(tmp_path / "s.npz", allow_pickle=False) as z:
        assert sorted(z.files) == ["x", "y"] and (z["x"] == x.numpy()).all() and (z["y"] == y.numpy()).all()
    save_samples(x, DIGITS, tmp_path / "nolabels.npz")
    with np.load(tmp_path / "nolabels.npz", allow_pickle=False) as z:
        assert z.files == ["x"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nolabels.npz", "s.npy", "s.npz"]


@pytest.mark.parametrize("name", ["s.jpg", "samples"])
def test_save_samples_rejects_unknown_suffix(tmp_path, name):
    with pytest.raises(GenzooError, match=r"\.png, \.npy, \.npz") as err:
        save_samples(torch.zeros(2, 1, 8, 8), DIGITS, tmp_path / name)
    assert "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_save_samples_failure_leaves_no_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    def half_then_fail(fh, arr, **kwargs):
        fh.write(b"\x93NUMPY half a header")
        raise OSError("disk full")

    monkeypatch.setattr(plots.np, "save", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        save_samples(torch.zeros(3, 2), POINTS, tmp_path / "new.npy")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "old.npy").write_bytes(b"previous good file")
    with pytest.raises(OSError):
        save_samples(torch.zeros(3, 2), POINTS, tmp_path / "old.npy")
    assert [p.name for p in tmp_path.iterdir()] == ["old.npy"]
    assert (tmp_path / "old.npy").read_bytes() == b"previous good file"


# --- figures ---------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 3, 200])
def test_loss_curves_is_a_png(n):
    png = loss_curves(records(n))
    with Image.open(io.BytesIO(png)) as img:
        assert img.format == "PNG" and img.width >= 3 * 300  # one panel for each of loss, recon, kl


def test_loss_curves_without_loss_terms_is_none():
    assert loss_curves([]) is None
    assert loss_curves([{"step": 1, "lr": 0.1, "time": 0.5, "steps_per_s": 3.0}]) is None
    assert plots.loss_terms([{"step": 1, "kl": 1.0, "time": 2.0, "loss": 3.0, "ok": True, "tag": "x"}]) == [
        "loss",
        "kl",
    ]


def test_points_figure_is_a_png_with_reference_and_modes():
    png = points_figure(
        torch.randn(100, 2), reference=torch.randn(300, 2), modes=torch.zeros(8, 2), title="<t>"
    )
    with Image.open(io.BytesIO(png)) as img:
        assert img.format == "PNG"
    points_figure(np.random.randn(50, 1))  # 1-D: histograms
    with pytest.raises(GenzooError, match="non-empty"):
        points_figure(torch.zeros(0, 2))


# --- latent pictures ---------------------------------------------------------------------------
def test_interpolate_endpoints_and_slerp_against_closed_form():
    z0, z1 = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    t = torch.tensor([0.0, 0.5, 1.0])
    for method in ("linear", "slerp"):
        z = interpolate(z0, z1, t, method)
        assert z.shape == (1, 3, 2) and torch.allclose(z[0, 0], z0[0]) and torch.allclose(z[0, 2], z1[0])
    assert torch.allclose(interpolate(z0, z1, t, "linear")[0, 1], torch.tensor([0.5, 0.5]))
    assert torch.allclose(interpolate(z0, z1, t, "slerp")[0, 1], torch.tensor([1.0, 1.0]) / math.sqrt(2))
    same = interpolate(z0, 2 * z0, t, "slerp")  # parallel codes: the straight line
    assert torch.allclose(same[0, 1], torch.tensor([1.5, 0.0]))
    with pytest.raises(GenzooError, match="valid: linear, slerp"):
        interpolate(z0, z1, t, "cubic")


def test_interpolation_strip_without_latent_space_is_an_error():
    with pytest.raises(GenzooError, match="^model 'kde' has no latent space to interpolate in$"):
        interpolation_strip(Cloud(POINTS))
    with pytest.raises(GenzooError, match="no encoder to reconstruct through"):
        reconstruction_grid(Cloud(DIGITS), torch.zeros(2, 1, 8, 8))


def test_interpolation_strip_rows_and_columns_and_seeding():
    model = LinearAE(DIGITS)
    strip = interpolation_strip(model, steps=7, pairs=4, generator=torch.Generator().manual_seed(3))
    assert strip.size == (7 * 50 + 2, 4 * 50 + 2)
    again = interpolation_strip(model, steps=7, pairs=4, generator=torch.Generator().manual_seed(3))
    assert (pixels(strip) == pixels(again)).all()
    x = digits(4).x
    strip = interpolation_strip(model, x0=x[:2], x1=x[2:], steps=5, method="linear")
    assert strip.size == (5 * 50 + 2, 2 * 50 + 2)
    assert model.training  # the model's mode is restored
    with pytest.raises(GenzooError, match="both x0 and x1"):
        interpolation_strip(model, x0=x[:2])


def test_interpolation_strip_on_points_draws_paths():
    strip = interpolation_strip(LinearAE(POINTS, latent_dim=2), reference=ring().x, pairs=3)
    assert strip.mode == "RGB" and strip.width > 100


def test_walk_follows_its_recurrence_and_keeps_the_prior():
    g = torch.Generator().manual_seed(0)
    z0, noise = torch.randn(3, 2, generator=g), torch.randn(3, 4, 2, generator=g)
    z = walk(z0, noise, 0.6, mean=torch.tensor([1.0, -1.0]), scale=torch.tensor([2.0, 0.5]))
    assert z.shape == (3, 5, 2) and torch.equal(z[:, 0], z0)
    ref = z0.clone()
    for t in range(4):  # brute force: z_t = μ + 0.8 (z_{t-1} − μ) + 0.6 s ε_t
        ref = (
            torch.tensor([1.0, -1.0])
            + 0.8 * (ref - torch.tensor([1.0, -1.0]))
            + 0.6 * torch.tensor([2.0, 0.5]) * noise[:, t]
        )
        assert torch.allclose(z[:, t + 1], ref, atol=1e-6)
    assert torch.equal(walk(z0, noise, 1.0)[:, 1:], noise)  # β = 1: independent draws
    # from N(0, I) the walk stays N(0, I): every step has mean 0 and unit variance
    many = walk(torch.randn(20000, 1, generator=g), torch.randn(20000, 30, 1, generator=g), 0.35)
    assert many[:, -1].mean().abs() < 0.03 and (many[:, -1].var() - 1).abs() < 0.04
    steps = (many[:, 1:] - many[:, :-1]).pow(2).mean().sqrt()  # √(2 − 2√(1 − β²)) per move
    assert steps.item() == pytest.approx(math.sqrt(2 - 2 * math.sqrt(1 - 0.35**2)), rel=0.02)
    with pytest.raises(GenzooError, match="walk step"):
        walk(z0, noise, 0.0)


def test_latent_walk_rows_columns_and_points():
    model = LinearAE(DIGITS)
    strip = latent_walk(model, walks=3, steps=6, generator=torch.Generator().manual_seed(1))
    assert strip.size == (6 * 50 + 2, 3 * 50 + 2)
    again = latent_walk(model, walks=3, steps=6, generator=torch.Generator().manual_seed(1))
    assert (pixels(strip) == pixels(again)).all()
    assert latent_walk(LinearAE(POINTS, latent_dim=2), reference=ring().x, walks=2).mode == "RGB"
    with pytest.raises(GenzooError, match="no latent space to walk in"):
        latent_walk(Cloud(POINTS))


def test_reconstruction_grid_puts_reconstructions_under_originals():
    model = LinearAE(DIGITS)
    nn.init.zeros_(model.dec.weight)
    nn.init.zeros_(model.dec.bias)  # every reconstruction is black
    grid = pixels(reconstruction_grid(model, torch.ones(19, 1, 8, 8), ncol=8))  # 16 used: 2 pairs of rows
    assert grid.shape == (4 * 50 + 2, 8 * 50 + 2)
    rows = [grid[2 + 50 * r : 50 * (r + 1), 2:-2] for r in range(4)]
    assert [(r.min(), r.max()) for r in rows] == [(128, 255), (0, 128), (128, 255), (0, 128)]
    assert (rows[0][:48, :48] == 255).all() and (rows[1][:48, :48] == 0).all()


# --- the report ------------------------------------------------------------------------------
def embedded_images(page: str) -> list[Image.Image]:
    return [
        Image.open(io.BytesIO(base64.b64decode(b)))
        for b in re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    ]


def test_render_report_is_self_contained_and_complete():
    page = render_report(LinearAE(DIGITS), CONFIG, records(30), METRICS, data=digits())
    assert "<title>genzoo report: linear-ae on no-such-dataset</title>" in page
    for key, _ in flatten(METRICS["metrics"]) + [("n", 0), ("seed", 0), ("split", 0)]:
        assert f"<th>{key}</th>" in page
    assert "<td>93.25</td>" in page and "<td>0.1716</td>" in page and "<td>estimate</td>" in page
    images = embedded_images(page)
    assert len(images) == 7  # loss curves, samples, reconstructions, three interpolations, latent walks
    assert "latent walks" in page and "linear interpolation" in page
    assert all(img.format == "PNG" for img in images)
    assert "http://" not in page and "https://" not in page and "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "could not draw" not in page
    assert "<th>latent_dim</th><td>3</td>" in page  # model params are listed without their prefix
    assert "50 steps/s (median)" in page


def test_render_report_says_what_is_missing():
    page = render_report(
        LinearAE(DIGITS), {"model": {"name": "linear-ae"}}, [], None, notes={"data": "data gone"}
    )
    assert "no log.jsonl" in page and "no metrics.json" in page and "no reconstructions: data gone" in page
    assert (
        len(embedded_images(page)) == 4
    )  # samples, slerp and linear interpolation of prior draws, latent walks
    assert "could not draw" not in page


def test_render_report_for_a_points_model_without_latent_space():
    cfg = {**CONFIG, "model": {"name": "kde", "params": {}}, "data_info": POINTS.to_dict()}
    page = render_report(Cloud(POINTS), cfg, records(3), {"mmd": 0.01}, data=ring())
    assert "Latent space" not in page and "<th>mmd</th>" in page
    assert len(embedded_images(page)) == 2 and "could not draw" not in page


def test_wall_time_adds_up_resumed_segments():
    recs = [
        {"step": 1, "time": 1.0},
        {"step": 2, "time": 2.0},
        {"step": 3, "time": 0.5},
        {"step": 4, "time": 1.5},
    ]
    assert wall_time(recs) == 3.5
    assert wall_time([{"step": 1}]) is None


def test_write_report_reads_the_run_directory(tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(CONFIG))
    (run / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records(12)) + "not json\n")
    (run / "metrics.json").write_text(json.dumps(METRICS))
    model = LinearAE(DIGITS)
    monkeypatch.setattr(ckpt, "load", lambda run_dir: model)
    out = write_report(run)
    assert out == run / "report.html"
    page = out.read_text(encoding="utf-8")
    assert "bits_per_dim" in page and "dataset &#x27;no-such-dataset&#x27; could not be loaded" in page
    assert sorted(p.name for p in run.iterdir()) == [
        "config.json",
        "log.jsonl",
        "metrics.json",
        "report.html",
    ]
    (run / "metrics.json").write_text("{broken")
    page = write_report(run, out=tmp_path / "elsewhere.html").read_text(encoding="utf-8")
    assert "metrics.json is not valid JSON" in page


def test_write_report_on_a_missing_run_is_a_user_error(tmp_path):
    with pytest.raises(GenzooError, match="run directory not found"):
        write_report(tmp_path / "nope")


# --- small-sample notes on the board and in the report ------------------------------------------
NOTE_PR = (
    "n = 20 real vs 20 generated: below 150 per set, the std of k-NN precision and recall <exceeds> 0.035"
)
NOTE_FD = "n = 20 real vs 20 generated: below 200 per set, the Fréchet distance is dominated by its 1/N bias"


def small_entries() -> list:
    from genzoo.viz.board import Entry

    pr = {"precision": 1.0, "recall": 0.2, "precision_floor": 0.95, "recall_floor": 0.9}
    small = {
        "pr": {**pr, "note": NOTE_PR},
        "fd": {"fd": 3.0, "floor": 1.0, "note": NOTE_FD},
        "mmd": {"mmd2": 0.1, "note": "mmd: no column"},
    }
    odd = {
        "pr": {**pr, "note": 5},
        "fd": {"fd": 3.0, "note": ["x"]},
        "dc": {"coverage": 0.5, "note": ""},
        "1nn": {"accuracy": 0.5, "note": {"a": 1}},
    }
    protocol = {
        "n": 40,
        "n_real": 20,
        "n_fake": 20,
        "small_sample": "20 real vs 20 generated: too few for fd, pr",
    }
    return [
        Entry("tiny", "vae", "faces", small, protocol),
        Entry(
            "tiny2", "gan", "faces", {"pr": {**pr, "note": NOTE_PR}}, protocol
        ),  # the same N: the same footnote
        Entry("large", "vae", "faces", {"pr": pr, "fd": {"fd": 2.0, "floor": 1.0}}, {"n": 4000}),
        Entry("odd", "vae", "faces", odd, {"n": 40}),  # hand-edited notes of the wrong type: no marks
        Entry("bare", "vae", "faces", {"pr": {"note": "a note on no figure"}}, {"n": 40}),  # nothing to mark
    ]


def md_tables(md: str) -> dict[str, list[list[list[str]]]]:
    """The Markdown board's tables under each "## dataset" heading: {dataset: [table, ...]}, a
    table being its rows of cells, the header first."""
    out: dict[str, list[list[list[str]]]] = {}
    heading, previous = None, ""
    for line in md.splitlines():
        if line.startswith("## "):
            heading = line[3:]
        elif line.startswith("| ") and heading is not None:
            if not previous.startswith("|"):
                out.setdefault(heading, []).append([])
            out[heading][-1].append([c.strip() for c in line.strip("|").split("|")])
        elif line.startswith("|---"):
            line = previous  # the rule under a header: still inside the table
        previous = line
    return out


def board_rows(md: str) -> dict[str, dict[str, str]]:
    """Every run's cells by column header, its headline and "more" tables merged."""
    rows: dict[str, dict[str, str]] = {}
    for tables in md_tables(md).values():
        for head, *body in tables:
            for cells in body:
                rows.setdefault(cells[0], {}).update(zip(head, cells))
    return rows


def test_board_markdown_footnotes_the_small_sample_notes():
    from genzoo.viz.board import render_markdown

    md = render_markdown(small_entries())
    rows = board_rows(md)
    assert (
        rows["tiny"]["precision"] == "1 (0.95) [2]" and rows["tiny"]["recall"] == "0.2 (0.9) [2]"
    )  # numbered left to right
    assert rows["tiny"]["FD"] == "3 (1) [1]" and rows["tiny2"]["recall"] == "0.2 (0.9) [2]"
    assert rows["large"]["precision"] == "1 (0.95)" and rows["large"]["FD"] == "2 (1)"
    assert all("[" not in cell for cell in rows["odd"].values())
    assert f"[1] {NOTE_FD}" in md and f"[2] {NOTE_PR}" in md and "[3]" not in md
    assert "mmd: no column" not in md and "a note on no figure" not in md  # nothing to mark
    assert "tiny: " in md and "small sample: 20 real vs 20 generated: too few for fd, pr" in md


def test_board_html_footnotes_the_small_sample_notes():
    from genzoo.viz.board import render_html

    page = render_html(small_entries())
    assert '<td>1 (0.95)<sup><a href="#fn2">[2]</a></sup></td>' in page
    assert '<td>3 (1)<sup><a href="#fn1">[1]</a></sup></td>' in page
    assert (
        page.count('href="#fn2"') == 4 and page.count('href="#fn1"') == 1
    )  # precision and recall of two runs; FD of one
    assert (
        '<p class="fn" id="fn2">[2] n = 20 real vs 20 generated: below 150 per set, the std of k-NN '
        "precision and recall &lt;exceeds&gt; 0.035</p>" in page
    )
    assert "small sample: 20 real vs 20 generated" in page and "<exceeds>" not in page
    assert "†: too few examples, see the notes under the tables" in page  # the bar chart's caption


def test_report_shows_the_note_beside_the_figures_it_qualifies():
    metrics = {
        "metrics": {
            "pr": {"precision": 1.0, "recall": 0.2, "k": 3, "note": NOTE_PR, "seconds": 0.1},
            "fd": {"fd": 3.0},
        },
        "n": 40,
        "small_sample": "20 real vs 20 generated: too few for pr",
    }
    page = render_report(LinearAE(DIGITS), CONFIG, records(3), metrics, data=digits())
    escaped = NOTE_PR.replace("<", "&lt;").replace(">", "&gt;")
    note_row = f'<tr class="flag" data-key="pr.note"><th>note</th><td colspan="4">{escaped}</td></tr>'
    groups = metric_groups(page)
    # in each group that shows pr's figures, right after them: precision (fidelity), recall (diversity)
    assert [k for k, _ in groups["Sample quality — fidelity"]] == ["pr.precision", "pr.note"]
    assert [k for k, _ in groups["Diversity"]] == ["pr.recall", "pr.note"]
    assert page.count(note_row) == 2
    # the list of every value keeps the old rows, the note beside its metric's figures
    flat = (
        f'<tr><th>pr.k</th><td>3</td></tr><tr class="flag"><th>pr.note</th><td>{escaped}</td></tr>'
        "<tr><th>pr.seconds</th>"
    )
    assert flat in page
    assert (
        '<tr class="flag"><th>small_sample</th><td>20 real vs 20 generated: too few for pr</td></tr>' in page
    )


# --- the page's structure, read with the standard library's HTML parser -----------------------------
class Node:
    """An element of a parsed page: tag, attributes, children, and its text."""

    def __init__(self, tag: str, attrs: dict[str, str | None]) -> None:
        self.tag, self.attrs, self.children, self.parts = tag, attrs, [], []

    @property
    def text(self) -> str:
        return "".join(p if isinstance(p, str) else p.text for p in self.parts)

    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def all(self, tag: str, cls: str | None = None) -> list[Node]:
        """Descendants with this tag (and class), in document order."""
        found = []
        for child in self.children:
            if child.tag == tag and (cls is None or cls in child.classes()):
                found.append(child)
            found.extend(child.all(tag, cls))
        return found

    def one(self, tag: str, cls: str | None = None) -> Node:
        found = self.all(tag, cls)
        assert len(found) == 1, f"{len(found)} <{tag} class={cls}>"
        return found[0]


def parse(page: str) -> Node:
    from html.parser import HTMLParser

    void = {"img", "meta", "br", "hr", "input", "link"}
    root = Node("document", {})
    stack = [root]

    class Builder(HTMLParser):
        def handle_starttag(self, tag, attrs):
            node = Node(tag, dict(attrs))
            stack[-1].children.append(node)
            stack[-1].parts.append(node)
            if tag not in void:
                stack.append(node)

        def handle_endtag(self, tag):
            if tag in void:
                return
            assert stack[-1].tag == tag, f"</{tag}> closes <{stack[-1].tag}>"
            stack.pop()

        def handle_data(self, data):
            stack[-1].parts.append(data)

    Builder(convert_charrefs=True).feed(page)
    assert stack == [root], [n.tag for n in stack]
    return root


def sections(doc: Node) -> dict[str, Node]:
    return {s.all("h2")[0].text: s for s in doc.all("section")}


def header(table: Node) -> list[str]:
    return [th.text for th in table.one("thead").all("th")]


def body_rows(table: Node) -> list[list[str]]:
    return [[td.text for td in tr.all("td")] for tr in table.one("tbody").all("tr")]


def png(width: int = 8, height: int = 8, value: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (width, height), value).save(buf, format="PNG")
    return buf.getvalue()


def metric_groups(page: str) -> dict[str, list[tuple[str, list[str]]]]:
    """The report's grouped metrics: {group: [(data-key, [cells]), ...]} in page order."""
    metrics = sections(parse(page))["Metrics"]
    groups, heading = {}, None
    for node in metrics.children:
        if node.tag == "h3":
            heading = node.text
        elif node.tag == "div" and node.all("table", "metrics"):
            table = node.one("table", "metrics")
            assert header(table) == ["figure", "value", "floor", "unit", "what it means"]
            groups[heading] = [
                (tr.attrs["data-key"], [c.text for c in tr.all("td")]) for tr in table.one("tbody").all("tr")
            ]
    return groups


# --- the board: gallery first, one table per dataset ----------------------------------------------
def board_entries() -> list:
    """Runs on three datasets: digits with the classifier's figures, a 2-D mixture, a Gaussian field."""
    from genzoo.viz.board import Entry

    pr = {"precision": 0.8, "recall": 0.5, "precision_floor": 0.9, "recall_floor": 0.9}
    digits_metrics = {
        "recognisable": {
            "share": 0.81,
            "floor": 0.95,
            "class_tv": 0.12,
            "class_tv_floor": 0.03,
            "seconds": 0.5,
        },
        "fd": {"fd": 600.0, "floor": 50.0},
        "pr": pr,
        "nll": {"nats": 100.5, "bits_per_dim": 0.18},
        "memorization": {"copy_rate": 0.04},
        "kid": {"mean": 5000.0, "floor": -250.0},
    }
    kde_digits = {**digits_metrics, "nll": {"skipped": "binary data"}, "memorization": {"copy_rate": 0.9}}
    ring = {
        "fd": {"fd": 0.05, "floor": 0.02},
        "pr": pr,
        "nll": {"nats": -2.9},
        "modes": {
            "modes_covered": 8,
            "modes_covered_floor": 8,
            "high_quality_rate": 0.97,
            "high_quality_rate_floor": 0.99,
        },
    }
    grf = {
        "w2": {"relative": 0.19, "relative_floor": 0.18},
        "variogram": {"error": 0.006, "floor": 0.002},
        "pr": pr,
        "nll": {"nats": -613.0},
    }
    return [
        Entry(
            "vae on mnist",
            "vae",
            "mnist",
            digits_metrics,
            {"n": 1000},
            params=10,
            train_seconds=26.7,
            samples_png=png(value=10),
        ),
        Entry(
            "gan on ring8", "gan", "ring8", ring, {"n": 1000}, train_seconds=50.4, samples_png=png(value=20)
        ),
        Entry(
            "kde on mnist",
            "kde",
            "mnist",
            kde_digits,
            {"n": 1000},
            train_seconds=0.5,
            samples_png=png(value=30),
        ),
        Entry("fft on grf", "fft", "grf", grf, {"n": 1000}, train_seconds=0.1, samples_png=png(value=40)),
        Entry("dbn on mnist", "dbn", "mnist", {}, {}, error="RuntimeError: boom"),
    ]


REAL = {
    "mnist": [("real data", png(value=200)), ("real data, binarised", png(value=190))],
    "ring8": [("real data", png(value=210))],
    "grf": [("real data", "held-out examples could not be loaded (gone)")],
}


def test_board_page_opens_with_the_gallery_then_how_to_read_then_the_board():
    from genzoo.viz.board import render_html

    doc = parse(render_html(board_entries(), title="t", intro="intro", real=REAL))
    assert list(sections(doc))[:3] == ["Gallery", "How to read this", "Leaderboard"]
    gallery = sections(doc)["Gallery"]
    groups = gallery.all("div", "gallery-group")
    assert [g.attrs["data-dataset"] for g in groups] == [
        "mnist",
        "ring8",
        "grf",
    ]  # the most runs first, then as they came
    for group, runs in zip(
        groups, [["vae on mnist", "kde on mnist", "dbn on mnist"], ["gan on ring8"], ["fft on grf"]]
    ):
        tiles = group.all("figure", "tile")
        real = REAL[group.attrs["data-dataset"]]
        assert [t.one("figcaption").all("b")[0].text for t in tiles[: len(real)]] == [
            caption for caption, _ in real
        ]
        assert all("real" in t.classes() for t in tiles[: len(real)])
        assert [
            t.attrs.get("data-run") for t in tiles[len(real) :]
        ] == runs  # one picture per run, after the real data
    mnist, ring, grf = groups
    for tile, (_, picture) in zip(mnist.all("figure", "tile"), REAL["mnist"]):  # grey, then binarised
        assert base64.b64decode(tile.one("img").attrs["src"].split(",", 1)[1]) == picture
    assert "could not be loaded (gone)" in grf.all("figure", "tile")[0].text and not grf.all(
        "figure", "tile"
    )[0].all("img")
    vae = mnist.all("figure", "tile")[2]
    assert base64.b64decode(vae.one("img").attrs["src"].split(",", 1)[1]) == png(value=10)
    lines = [s.text for s in vae.one("figcaption").all("span")]
    assert lines == ["recognisable↑ 0.81 (floor 0.95)", "class TV↓ 0.12 (floor 0.03)", "trained 26.7 s"]
    assert [s.text for s in ring.all("figure", "tile")[1].all("span")] == [
        "modes↑ 8 (floor 8)",
        "HQ rate↑ 0.97 (floor 0.99)",
        "trained 50.4 s",
    ]
    assert [s.text for s in grf.all("figure", "tile")[1].all("span")] == [
        "W₂/√trΣ↓ 0.19 (floor 0.18)",
        "variogram err.↓ 0.006 (floor 0.002)",
        "trained 0.1 s",
    ]
    failed = mnist.all("figure", "tile")[4]
    assert "failed: RuntimeError: boom" in failed.text and not failed.all("img")


def test_board_has_one_table_per_dataset_with_the_headline_columns_first_and_more_collapsed():
    from genzoo.viz.board import render_html

    doc = parse(render_html(board_entries(), real=REAL))
    blocks = sections(doc)["Leaderboard"].all("div", "dataset")
    assert [b.attrs["data-dataset"] for b in blocks] == ["mnist", "ring8", "grf"]
    heads = {b.attrs["data-dataset"]: header(b.one("table", "headline")) for b in blocks}
    assert heads == {
        "mnist": ["run", "recognisable", "class TV", "FD", "precision", "recall", "NLL (nats)", "train s"],
        "ring8": ["run", "FD", "precision", "recall", "NLL (nats)", "modes", "HQ rate", "train s"],
        "grf": ["run", "precision", "recall", "NLL (nats)", "W₂/√trΣ", "variogram err.", "train s"],
    }
    for block in blocks:
        runs = {e.name for e in board_entries() if e.data == block.attrs["data-dataset"]}
        more = block.one("details", "more")
        assert "open" not in more.attrs  # collapsed until the reader asks
        assert block.one("table", "headline") not in more.all("table")
        for table in block.all("table"):  # no table holds a run of another dataset
            assert {row[0] for row in body_rows(table)} == runs
    mnist_more = blocks[0].one("details", "more").one("table", "more")
    assert header(mnist_more) == [
        "run",
        "copy rate",
        "bits/dim",
        "KID",
        "model",
        "parameters",
        "sample s/1000",
    ]
    rows = {r[0]: r for r in body_rows(blocks[0].one("table", "headline"))}
    assert rows["vae on mnist"] == [
        "vae on mnist",
        "0.81 (0.95)",
        "0.12 (0.03)",
        "600 (50)",
        "0.8 (0.9)",
        "0.5 (0.9)",
        "100.5",
        "26.7",
    ]
    assert rows["kde on mnist"][6] == "—" and rows["dbn on mnist"][1] == "failed: RuntimeError: boom"
    # bar charts: one per dataset, inside its own "more" — never two datasets on one axis
    assert len(sections(doc)["Leaderboard"].all("img")) == 3
    for block in blocks:
        assert len(block.one("details", "more").all("img")) == 1


def test_how_to_read_this_explains_the_headline_figures_the_floor_and_kde():
    from genzoo.viz.board import render_html

    read = sections(parse(render_html(board_entries(), real=REAL)))["How to read this"]
    terms = [dt.text for dt in read.all("dt")]
    assert terms[:3] == ["The pictures", "The floor", "One table per dataset"]
    assert "recognisable: higher is better" in terms and "class TV: lower is better" in terms
    assert (
        "FD: lower is better" in terms
        and "copy rate: lower is better" in terms
        and "Why KDE's FD can look good" in terms
    )
    text = read.text
    assert "two halves of the held-out data" in text and "training examples plus a little noise" in text
    assert "KID" not in terms  # only the headline figures (and the copy rate) are explained
    assert len(text.split()) < 400  # a minute's reading


def test_board_markdown_has_one_headline_and_one_more_table_per_dataset():
    from genzoo.viz.board import render_markdown

    md = render_markdown(board_entries(), title="t")
    tables = md_tables(md)
    assert list(tables) == [
        "mnist",
        "ring8",
        "grf",
    ]  # the notes, how to read it and the protocol hold no table
    for data in ("mnist", "ring8", "grf"):
        head, more = tables[data]
        runs = {e.name for e in board_entries() if e.data == data}
        assert {r[0] for r in head[1:]} == runs and {r[0] for r in more[1:]} == runs
        assert head[0][-1] == "train s" and more[0][-3:] == ["model", "parameters", "sample s/1000"]
    assert tables["mnist"][0][0] == [
        "run",
        "recognisable",
        "class TV",
        "FD",
        "precision",
        "recall",
        "NLL (nats)",
        "train s",
    ]
    assert md.index("## mnist") < md.index("## ring8") < md.index("## grf") < md.index("## How to read this")


def test_headline_takes_the_first_figure_group_a_dataset_has():
    from genzoo.viz.board import Entry, headline

    def heads(metrics):
        return [c.header for c in headline([Entry("r", "m", "d", metrics, {})])]

    assert heads({"recognisable": {"share": 0.9}, "fd": {"fd": 1.0}}) == ["recognisable"]  # class TV absent
    assert heads({"fd": {"fd": 1.0}, "modes": {"modes_covered": 8, "high_quality_rate": 0.9}}) == [
        "modes",
        "HQ rate",
    ]
    assert heads({"variogram": {"error": 0.1}, "pr": {"precision": 0.5}}) == ["variogram err."]
    assert heads({"facies": {"indicator_variogram": 0.1, "pattern_js": 0.2}}) == [
        "indicator γ err.",
        "pattern JS",
    ]
    assert heads({"fd": {"fd": 1.0}, "pr": {"precision": 0.5}}) == ["FD"]
    assert heads({"pr": {"precision": 0.5, "recall": 0.4}}) == ["precision", "recall"]
    assert heads({"kid": {"mean": 1.0}}) == []


def test_real_tiles_draw_held_out_examples_like_samples_png_and_say_why_not():
    from genzoo.pictures import samples_png
    from genzoo.viz.gallery import real_tiles

    tiles = real_tiles(
        [("ring8", {}), ("folder:/no/such/folder", {}), ("ring8", {"range": None}), ("ring8", {})]
    )
    ring = genzoo.datasets.load("ring8", split="test")
    assert tiles["ring8"] == [
        ("real data", samples_png(ring.tensors()[:64], ring.info, what="examples"))
    ]  # one picture, drawn once
    [(caption, reason)] = tiles["folder:/no/such/folder"]
    assert caption == "real data" and reason.startswith("held-out examples could not be loaded (")


def test_real_tiles_show_grey_and_binarised_digits_when_runs_of_both_share_a_dataset():
    from genzoo.pictures import samples_png
    from genzoo.viz.gallery import real_caption, real_tiles

    tiles = real_tiles(
        [("mnist", {"binarize": "none"}), ("mnist", {"binarize": "dynamic"}), ("mnist", {"binarize": "none"})]
    )
    drawn = [genzoo.datasets.load("mnist", split="test", binarize=b) for b in ("none", "dynamic")]
    assert tiles["mnist"] == [
        ("real data", samples_png(drawn[0].tensors()[:64], drawn[0].info, what="examples")),
        ("real data, binarised", samples_png(drawn[1].tensors()[:64], drawn[1].info, what="examples")),
    ]
    assert real_caption({"binarize": "none"}, {"binarize": "static"}) == "real data, grey"
    assert (
        real_caption({"binarize": "none", "labels": False}, {"binarize": "none"}) == "real data, labels False"
    )


# --- the report: metrics by kind, pictures as pictures, samples over training ------------------------
GROUPED = {
    "metrics": {
        "fd": {"skipped": "needs more samples than feature dimensions"},
        "memorization": {
            "copy_rate": 0.05,
            "ratio": 1.1,
            "threshold": 4.3,
            "closest_pairs_png": "memorization.png",
            "closest": [[0, 1, 2.0]],
            "seconds": 0.3,
        },
        "nll": {"nats": 93.25, "bits_per_dim": 0.17, "kind": "estimate", "n": 100, "seconds": 9.5},
        "pr": {
            "precision": 0.8,
            "recall": 0.6,
            "precision_floor": 0.9,
            "recall_floor": 0.88,
            "k": 3,
            "seconds": 0.1,
        },
        "recognisable": {
            "share": 0.81,
            "floor": 0.95,
            "class_tv": 0.12,
            "class_tv_floor": 0.03,
            "seconds": 0.5,
        },
        "zeta": {"score": 1.5},  # a metric the catalogue does not know yet
    },
    "n": 500,
    "seed": 0,
    "split": "test",
    "sample_seconds_per_1000": 0.25,
}


def test_report_groups_the_metrics_by_kind_with_floor_unit_and_meaning():
    picture = png(24, 12, 99)
    page = render_report(
        LinearAE(DIGITS), CONFIG, records(3), GROUPED, data=digits(), pictures={"memorization.png": picture}
    )
    groups = metric_groups(page)
    assert list(groups) == [
        "Likelihood",
        "Sample quality — fidelity",
        "Diversity",
        "Sample quality — fidelity and diversity together",
        "Memorisation",
        "Timing",
        "Other figures",
    ]
    rows = {k: cells for rows in groups.values() for k, cells in rows}
    assert [k for k, _ in groups["Likelihood"]] == [
        "nll.nats",
        "nll.bits_per_dim",
        "nll.kind",
    ]  # n: a detail, in the full list
    assert (
        rows["nll.nats"][:3] == ["93.25", "—", "nats per example"]
        and "Lower is better." in rows["nll.nats"][3]
    )
    assert [k for k, _ in groups["Sample quality — fidelity"]] == ["recognisable.share", "pr.precision"]
    assert (
        rows["recognisable.share"][:3] == ["0.81", "0.95", "share (0–1)"]
        and "classifier" in rows["recognisable.share"][3]
    )
    assert [k for k, _ in groups["Diversity"]] == ["recognisable.class_tv", "pr.recall"]
    assert rows["recognisable.class_tv"][:2] == ["0.12", "0.03"] and rows["pr.recall"][:2] == ["0.6", "0.88"]
    assert rows["fd.skipped"] == ["not computed: needs more samples than feature dimensions"]
    assert rows["zeta.score"][0] == "1.5"
    timing = dict(groups["Timing"])
    assert list(timing) == [
        "training",
        "sample_seconds_per_1000",
        "memorization.seconds",
        "nll.seconds",
        "pr.seconds",
        "recognisable.seconds",
    ]
    assert timing["training"][0] == "0.6 s" and timing["nll.seconds"][:3] == ["9.5", "—", "seconds"]
    assert (
        "precision_floor" not in rows and "pr.k" not in rows
    )  # floors beside their figures; settings in the full list


def test_report_shows_a_metric_s_picture_as_an_image_not_its_file_name():
    picture = png(24, 12, 99)
    page = render_report(
        LinearAE(DIGITS), CONFIG, records(3), GROUPED, data=digits(), pictures={"memorization.png": picture}
    )
    metrics = sections(parse(page))["Metrics"]
    row = next(tr for tr in metrics.all("tr") if tr.attrs.get("data-key") == "memorization.closest_pairs_png")
    image = row.one("img")
    assert base64.b64decode(image.attrs["src"].removeprefix("data:image/png;base64,")) == picture
    assert "memorization.png" not in row.text  # the picture, not its name
    missing = render_report(
        LinearAE(DIGITS), CONFIG, records(3), GROUPED, data=digits()
    )  # no such file given
    row = next(
        tr
        for tr in sections(parse(missing))["Metrics"].all("tr")
        if tr.attrs.get("data-key") == "memorization.closest_pairs_png"
    )
    assert not row.all("img") and "memorization.png (not in the run directory)" in row.text


def test_write_report_reads_the_pictures_metrics_name_from_the_run_directory_only(tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(CONFIG))
    (run / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records(3)))
    (tmp_path / "outside.png").write_bytes(png())
    (run / "fake.png").write_bytes(b"not a picture")
    (run / "memorization.png").write_bytes(png(24, 12, 99))
    doc = json.loads(json.dumps(GROUPED))
    doc["metrics"]["zeta"] = {
        "a_png": "../outside.png",
        "b_png": str(tmp_path / "outside.png"),
        "c_png": "fake.png",
    }
    (run / "metrics.json").write_text(json.dumps(doc))
    monkeypatch.setattr(ckpt, "load", lambda run_dir: LinearAE(DIGITS))
    metrics = sections(parse(write_report(run).read_text()))["Metrics"]
    keyed = {tr.attrs.get("data-key"): tr for tr in metrics.all("tr") if tr.attrs.get("data-key")}
    assert len(keyed["memorization.closest_pairs_png"].all("img")) == 1
    assert not any(
        keyed[f"zeta.{k}"].all("img") for k in ("a_png", "b_png", "c_png")
    )  # outside the run, or no PNG inside
    assert "fake.png (not in the run directory)" in keyed["zeta.c_png"].text


def frames_png(n: int) -> list[tuple[int, bytes]]:
    return [(step, png(16, 16, 40 * i)) for i, step in enumerate([10, 20, 100, 1000][:n])]


def test_report_shows_the_sample_grid_of_each_checkpoint_in_step_order():
    frames = frames_png(4)
    page = render_report(LinearAE(DIGITS), CONFIG, records(3), None, data=digits(), frames=frames)
    names = list(sections(parse(page)))
    assert names.index("Samples over training") == names.index("Samples") + 1
    strip = sections(parse(page))["Samples over training"]
    shown = strip.all("figure", "frame")
    assert [f.attrs["data-step"] for f in shown] == ["10", "20", "100", "1000"]
    assert [f.one("figcaption").text for f in shown] == ["step 10", "step 20", "step 100", "step 1,000"]
    for f, (_, data) in zip(shown, frames):
        assert base64.b64decode(f.one("img").attrs["src"].split(",", 1)[1]) == data
    gif = next(i for i in strip.all("img") if i.attrs["src"].startswith("data:image/gif;base64,"))
    with Image.open(io.BytesIO(base64.b64decode(gif.attrs["src"].split(",", 1)[1]))) as anim:
        assert anim.n_frames == 4 and anim.info["loop"] == 0
        grey = []
        for k in range(4):
            anim.seek(k)
            grey.append(anim.convert("L").getpixel((0, 0)))
        assert grey == [0, 40, 80, 120]  # the frames in step order
    one = render_report(LinearAE(DIGITS), CONFIG, records(3), None, data=digits(), frames=frames[:1])
    assert "image/gif" not in one and "one checkpoint so far" in one
    assert "Samples over training" not in render_report(
        LinearAE(DIGITS), CONFIG, records(3), None, data=digits()
    )


def test_write_report_reads_the_checkpoint_grids_in_step_order(tmp_path, monkeypatch):
    from genzoo.training import checkpoint as ckpt

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(CONFIG))
    for step, data in reversed(frames_png(4)):
        ckpt.frame_path(run, step).parent.mkdir(exist_ok=True)
        ckpt.frame_path(run, step).write_bytes(data)
    (run / ckpt.FRAMES / "notes.png").write_bytes(png())  # not a checkpoint's grid
    monkeypatch.setattr(ckpt, "load", lambda run_dir: LinearAE(DIGITS))
    strip = sections(parse(write_report(run).read_text()))["Samples over training"]
    assert [f.attrs["data-step"] for f in strip.all("figure", "frame")] == ["10", "20", "100", "1000"]


def test_the_board_columns_and_the_glossary_agree():
    """The board's columns and the glossary both say which way a figure is better and where its floor
    is: they must not drift apart."""
    from genzoo.viz import glossary
    from genzoo.viz.board import COLUMNS

    for col in COLUMNS:
        fig = glossary.lookup(*col.key)
        assert fig is not None, col.key
        assert fig.better == col.better, col.key
        assert (col.floor[1] if col.floor else None) == fig.floor, col.key
