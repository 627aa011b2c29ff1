"""The evaluation protocol: a model whose samples *are* held-out data scores exactly the noise
floor; refusals and skips; anomaly AUROC and modes against independent computations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import genzoo
from genzoo.data.base import DataInfo, Dataset
from genzoo.errors import GenzooError
from genzoo.metrics import METRICS, evaluate
from genzoo.metrics.recon import auroc
from genzoo.models.base import GenerativeModel


@dataclass
class _Cfg:
    pass


class Replay(GenerativeModel):
    """A stand-in 'model' whose samples are given examples, in order (not registered)."""

    Config = _Cfg
    name = "replay"

    def __init__(self, info: DataInfo, examples: torch.Tensor) -> None:
        super().__init__(_Cfg(), info)
        self.examples = examples

    def sample(self, n, *, generator=None, **condition):
        return self.examples[:n]


@pytest.fixture(scope="module")
def ring_test() -> Dataset:
    return genzoo.datasets.load("ring8", split="test", n=2000)  # test split: 400 points


def test_samples_equal_to_half_b_score_exactly_the_floor(ring_test):
    n = len(ring_test)
    half = n // 2
    model = Replay(ring_test.info, ring_test.tensors()[half : 2 * half])  # the samples are half B
    result = evaluate(model, ring_test, metrics=["fd", "mmd", "pr", "dc", "1nn", "modes"])
    m = result["metrics"]
    assert result["n_real"] == result["n_fake"] == half
    assert m["fd"]["fd"] == pytest.approx(m["fd"]["floor"], rel=1e-12)
    assert m["mmd"]["mmd2"] == pytest.approx(m["mmd"]["floor"], rel=1e-12)
    assert m["pr"]["precision"] == m["pr"]["precision_floor"] and m["pr"]["recall"] == m["pr"]["recall_floor"]
    assert m["dc"]["coverage"] == m["dc"]["coverage_floor"]
    assert m["1nn"]["accuracy"] == m["1nn"]["floor"]
    assert (
        m["modes"]["modes_covered"] == 8
        and m["modes"]["high_quality_rate"] == m["modes"]["high_quality_rate_floor"]
    )


def test_samples_equal_to_half_a_are_perfect(ring_test):
    half = len(ring_test) // 2
    model = Replay(ring_test.info, ring_test.tensors()[:half])
    m = evaluate(model, ring_test, metrics=["fd", "pr", "dc", "1nn"])["metrics"]
    assert abs(m["fd"]["fd"]) < 1e-9
    assert m["pr"]["precision"] == m["pr"]["recall"] == m["dc"]["coverage"] == 1.0
    assert m["1nn"]["accuracy"] == 0.5


def test_collapsed_model_is_caught(ring_test):
    """All samples on one mode: high quality but 1 mode of 8, low recall and coverage."""
    centre = torch.as_tensor(ring_test.extras["modes"][0], dtype=torch.float32)
    g = torch.Generator().manual_seed(0)
    model = Replay(ring_test.info, centre + 0.02 * torch.randn(1000, 2, generator=g))
    m = evaluate(model, ring_test, metrics=["pr", "dc", "modes"])["metrics"]
    assert m["modes"]["modes_covered"] == 1 and m["modes"]["high_quality_rate"] > 0.95
    assert m["pr"]["precision"] > 0.8 and m["pr"]["recall"] < 0.3 and m["dc"]["coverage"] < 0.3


def test_default_suite_and_refusals(ring_test):
    model = Replay(ring_test.info, ring_test.tensors())
    names = genzoo.metrics.default_metrics(model, ring_test)
    assert "nll" not in names and "recon" not in names and "modes" in names
    with pytest.raises(GenzooError, match="metric 'nll' does not apply"):
        evaluate(model, ring_test, metrics=["nll"])
    with pytest.raises(GenzooError, match="unknown metric 'fid'; did you mean 'fd'"):
        evaluate(model, ring_test, metrics=["fid"])
    tiny = ring_test.subset(torch.arange(3))
    with pytest.raises(GenzooError, match="at least 4 held-out examples"):
        evaluate(model, tiny, metrics=["pr"])
    faces = genzoo.datasets.load("faces", split="test")  # 20 faces of 625 pixels: FD refuses
    fmodel = Replay(faces.info, faces.tensors())
    skipped = evaluate(fmodel, faces, metrics=None)["metrics"]["fd"]
    assert "more samples than" in skipped["skipped"] or "dimensions" in skipped["skipped"]
    with pytest.raises(GenzooError, match="metric 'fd'"):
        evaluate(fmodel, faces, metrics=["fd"])


def test_kde_nll_is_refused_on_binary_data():
    train = genzoo.datasets.load("digits", split="train", binarize="static")
    test = genzoo.datasets.load("digits", split="test", binarize="static")
    model = genzoo.train(genzoo.models.create("kde", train), train, progress=False).model
    m = evaluate(model, test, n=100)["metrics"]
    assert "continuous density" in m["nll"]["skipped"]
    grey = genzoo.datasets.load("digits", split="test")
    kde = genzoo.train(genzoo.models.create("kde", grey), grey, progress=False).model
    nll = evaluate(kde, grey, metrics=["nll"], n=50)["metrics"]["nll"]
    assert nll["kind"] == "exact"
    expected = -kde.log_prob(grey.tensors()[:50]).mean().item()
    assert nll["nats"] == pytest.approx(expected, rel=1e-12)
    assert nll["bits_per_dim"] == pytest.approx(expected / (64 * np.log(2)), rel=1e-12)


def test_auroc_matches_sklearn():
    rng = np.random.default_rng(0)
    neg = torch.tensor(rng.normal(size=300))
    pos = torch.tensor(rng.normal(loc=0.7, size=200).round(1))  # with ties
    neg[:50] = pos[:50]
    labels = np.r_[np.zeros(300), np.ones(200)]
    expected = roc_auc_score(labels, np.r_[neg.numpy(), pos.numpy()])
    assert auroc(neg, pos) == pytest.approx(expected, abs=1e-12)


def test_every_metric_is_listed_with_a_summary():
    for name in ("nll", "fd", "kid", "mmd", "pr", "dc", "1nn", "memorization", "modes", "recon", "anomaly"):
        assert name in METRICS and METRICS.get(name).summary


def test_metrics_are_seeded_and_leave_the_global_rng_alone(ring_test):
    model = genzoo.train(
        genzoo.models.create("vae", ring_test, seed=0, hidden=(16,), latent_dim=2),
        ring_test,
        steps=20,
        progress=False,
    ).model
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = evaluate(model, ring_test, metrics=["anomaly", "nll", "fd"], seed=3)
    assert torch.equal(torch.random.get_rng_state(), before)
    b = evaluate(model, ring_test, metrics=["anomaly", "nll", "fd"], seed=3)
    for name in ("anomaly", "nll", "fd"):
        a["metrics"][name].pop("seconds")
        b["metrics"][name].pop("seconds")
    assert a["metrics"] == b["metrics"]


# --- small samples -----------------------------------------------------------------------------
SAMPLE_METRICS = ["fd", "kid", "mmd", "pr", "dc", "1nn", "memorization", "modes"]


def _notes(result: dict) -> dict[str, str]:
    return {name: out["note"] for name, out in result["metrics"].items() if "note" in out}


@pytest.fixture(scope="module")
def ring_large() -> tuple[Dataset, Dataset]:
    """2000 held-out points (up to 1000 per half) and training data for memorisation."""
    return genzoo.datasets.load("ring8", split="test", n=10_000), genzoo.datasets.load(
        "ring8", split="train", n=2000
    )


def test_twenty_against_twenty_is_noted_beside_every_sample_metric(ring_test, ring_large):
    """A folder of 200 examples gives 20 real vs 20 generated: precision 1 and recall 0.2 used to
    be reported without a word. Each figure now says it is rough, and the protocol names them."""
    model = Replay(ring_test.info, ring_test.tensors())
    result = evaluate(model, ring_test, n=40, metrics=SAMPLE_METRICS, train_data=ring_large[1])
    notes = _notes(result)
    assert list(notes) == SAMPLE_METRICS
    assert all(
        note.startswith("n = 20 real vs 20 generated: below ") and note.endswith("read as rough")
        for note in notes.values()
    )
    assert "below 150 per set, the std of k-NN precision and recall" in notes["pr"]
    assert "below 200 per set" in notes["fd"] and "D = 2" in notes["fd"]  # max(200, 5·D)
    assert "below 54 per set" in notes["modes"] and "density and coverage" in notes["dc"]
    assert result["small_sample"] == (
        "20 real vs 20 generated: too few for fd, kid, mmd, pr, dc, 1nn, memorization, modes to mean much "
        "(see the note beside each)"
    )


@pytest.mark.parametrize(
    "name, minimum",
    [
        ("fd", 200),
        ("kid", 300),
        ("mmd", 300),
        ("pr", 150),
        ("dc", 1000),
        ("1nn", 200),
        ("memorization", 200),
        ("modes", 54),
    ],
)
def test_the_note_appears_below_each_minimum_and_not_at_it(ring_large, name, minimum):
    test, train = ring_large
    model = Replay(test.info, test.tensors())
    at = evaluate(model, test, n=2 * minimum, metrics=[name], train_data=train)
    below = evaluate(model, test, n=2 * minimum - 2, metrics=[name], train_data=train)
    assert "note" not in at["metrics"][name] and "small_sample" not in at
    assert below["metrics"][name]["note"].startswith(
        f"n = {minimum - 1} real vs {minimum - 1} generated: below {minimum} per set"
    )
    assert below["small_sample"].startswith(
        f"{minimum - 1} real vs {minimum - 1} generated: too few for {name} "
    )


def test_density_is_noted_longer_than_coverage(ring_large):
    test, _ = ring_large
    model = Replay(test.info, test.tensors())
    note = evaluate(model, test, n=400, metrics=["dc"])["metrics"]["dc"]["note"]
    assert "std of density between" in note and "coverage is steady from 100" in note
    assert "density and coverage" in evaluate(model, test, n=198, metrics=["dc"])["metrics"]["dc"]["note"]


def test_modes_minimum_leaves_a_mode_empty_less_than_once_in_a_hundred():
    """k ln(100k) samples of a perfect sampler: some of k equal modes empty with probability ≤ 1%
    (simulated), while half as many leave one empty more often."""
    from genzoo.metrics.suite import modes_min

    assert (modes_min(8), modes_min(25)) == (54, 196)
    rng = np.random.default_rng(0)

    def empty_rate(n: int, k: int) -> float:
        return float((rng.multinomial(n, np.full(k, 1 / k), size=20_000) == 0).any(axis=1).mean())

    for k in (8, 25):
        assert empty_rate(modes_min(k), k) <= 0.01 < empty_rate(modes_min(k) // 2, k)


# --- recognisable: what a person sees ------------------------------------------------------------
def test_recognisable_share_histogram_and_tv_against_loops():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.full(10, 0.3), size=500)
    probs[:7] = 0.0
    probs[:7, 3] = 0.9  # exactly at the threshold: recognised
    probs[:7, 4] = 0.1
    from genzoo.metrics import samples as S

    assert S.recognisable(probs) == pytest.approx(sum(max(row) >= 0.9 for row in probs) / len(probs), abs=0)
    hist = S.class_histogram(probs)
    counts = [0] * 10
    for row in probs:
        counts[max(range(10), key=lambda c: row[c])] += 1
    assert hist.tolist() == pytest.approx([c / len(probs) for c in counts], abs=0)
    q = np.full(10, 0.1)
    assert S.total_variation(hist, q) == pytest.approx(
        sum(abs(a - b) for a, b in zip(hist, q)) / 2, rel=1e-12
    )
    with pytest.raises(GenzooError, match="class probabilities"):
        S.recognisable(np.zeros((0, 10)))


@pytest.fixture(scope="module")
def mnist_test() -> Dataset:
    return genzoo.datasets.load("mnist", split="test", binarize="none")


def test_recognisable_counts_what_the_classifier_is_sure_of_one_image_at_a_time(mnist_test):
    """The metric on half B of mnist against a brute-force count: the shipped classifier run on one
    image at a time, its softmax compared with 0.9 by hand."""
    from genzoo.metrics.features import load_classifier

    n = 400
    half = n // 2
    real = mnist_test.tensors()[:n]
    model = Replay(mnist_test.info, real[half:])
    m = evaluate(model, mnist_test, metrics=["recognisable"], n=n)["metrics"]["recognisable"]
    net = load_classifier("mnist")
    sure, classes = 0, [0] * 10
    for img in real[half:]:
        p = torch.softmax(net(img[None].clamp(0, 1)).double(), 1)[0]
        sure += bool(p.max() >= 0.9)
        classes[int(p.argmax())] += 1
    assert m["share"] == pytest.approx(sure / half, abs=0)
    assert m["share"] == m["floor"] and m["class_tv"] == m["class_tv_floor"]  # the samples are half B
    assert m["class_share"] == pytest.approx([c / half for c in classes], abs=1e-4)
    assert m["floor"] > 0.9


def test_recognisable_shows_dropped_classes_and_noise(mnist_test):
    """Samples of one digit class only: every one recognised, but the class histogram is 0.9 away from
    the data's (TV between one class and ten equal ones); uniform noise: almost nothing recognised."""
    n = 400
    x, y = mnist_test.tensors(), mnist_test.y
    ones = x[y == 1][:200]
    m = evaluate(Replay(mnist_test.info, ones), mnist_test, metrics=["recognisable"], n=n)["metrics"][
        "recognisable"
    ]
    assert m["class_tv"] == pytest.approx(1 - m["class_share_data"][1], abs=0.02) and m["class_tv"] > 0.85
    assert m["class_tv_floor"] < 0.15
    noise = torch.rand(200, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    m = evaluate(Replay(mnist_test.info, noise), mnist_test, metrics=["recognisable"], n=n)["metrics"][
        "recognisable"
    ]
    assert m["share"] < 0.2 < m["floor"]


def test_recognisable_applies_only_where_a_classifier_ships(ring_test):
    assert "recognisable" not in genzoo.metrics.default_metrics(
        Replay(ring_test.info, ring_test.tensors()), ring_test
    )
    with pytest.raises(GenzooError, match="recognisable.*does not apply"):
        evaluate(Replay(ring_test.info, ring_test.tensors()), ring_test, metrics=["recognisable"])
