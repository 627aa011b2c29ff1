"""Latent-space conditioning against references: the closed-form MAP and posterior of a linear-Gaussian
generator G(z) = A z + b (points and block averages), the mean-field optimum of the inference network,
hand computations of the forward operators, a brute-force recomputation of the scores on real genzoo
models, the point checks' and CSV reader's exact messages, and seeded repeatability."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

import genzoo
from genzoo.data.base import DataInfo
from genzoo.errors import GenzooError
from genzoo.geostat.latent import (
    block_average,
    check_points,
    condition_operator,
    condition_points,
    fit_inference,
    points_operator,
    prior_predictive,
    proportions_operator,
    read_points_csv,
)

pytestmark = pytest.mark.usefixtures("one_thread")
FIELD = DataInfo("toy", "field", (1, 8, 8), (float("-inf"), float("inf")))


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class LinearG(nn.Module):
    """G(z) = A z + b on an H×W grid, in float64: the posterior of z given linear data is Gaussian in
    closed form."""

    latent = True
    name = "linear"

    def __init__(
        self, A: Tensor, b: Tensor, h: int, w: int, value_range: tuple[float, float] = (-math.inf, math.inf)
    ) -> None:
        super().__init__()
        self.A, self.b = nn.Parameter(A.double()), nn.Parameter(b.double())
        self.info = DataInfo("linear", "field", (1, h, w), value_range)

    def latent_shape(self) -> tuple[int, ...]:
        return (self.A.shape[1],)

    def sample_latent(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        return torch.randn(n, self.A.shape[1], generator=generator, dtype=torch.float64)

    def decode(self, z: Tensor) -> Tensor:
        return (z @ self.A.T + self.b).reshape(len(z), *self.info.shape)


def linear(h: int = 4, w: int = 4, latent: int = 3, seed: int = 0) -> LinearG:
    g = gen(seed)
    A = torch.randn(h * w, latent, generator=g, dtype=torch.float64)
    return LinearG(A, 0.3 * torch.randn(h * w, generator=g, dtype=torch.float64), h, w)


def map_estimate(
    Ao: Tensor, bo: Tensor, d: Tensor, sigma: float, prior_weight: float = 1.0
) -> tuple[Tensor, Tensor]:
    """z* = (AᵀA/σ² + w I)⁻¹ Aᵀ(d − b)/σ² and the precision Λ = AᵀA/σ² + w I of the data operator Ao."""
    lam = Ao.T @ Ao / sigma**2 + prior_weight * torch.eye(Ao.shape[1], dtype=torch.float64)
    return torch.linalg.solve(lam, Ao.T @ (d - bo) / sigma**2), lam


ROWS, COLS = [0, 1, 2, 3, 0, 2], [0, 3, 1, 2, 2, 3]


# --- optimisation against the closed form --------------------------------------------------------
@pytest.mark.parametrize("prior_weight", [1.0, 0.25])
def test_points_converge_to_the_closed_form_map(prior_weight):
    model = linear()
    idx = torch.tensor(ROWS) * 4 + torch.tensor(COLS)
    Ao, bo = model.A.detach()[idx], model.b.detach()[idx]
    noise = 0.2 * torch.randn(6, generator=gen(1), dtype=torch.float64)
    d = Ao @ torch.tensor([0.5, -1.0, 0.8], dtype=torch.float64) + bo + noise
    sigma = 0.3
    z_star, _ = map_estimate(Ao, bo, d, sigma, prior_weight)
    r = condition_points(
        model,
        ROWS,
        COLS,
        d,
        n=5,
        steps=1000,
        lr=0.05,
        sigma=sigma,
        prior_weight=prior_weight,
        generator=gen(0),
    )
    assert (r.z - z_star).abs().max() < 1e-4  # every restart: the problem is convex
    torch.testing.assert_close(r.x, model.decode(r.z).detach())
    assert r.x.shape == (5, 1, 4, 4) and r.z.shape == (5, 3)
    assert len(r.history) == 1000 and r.history[-1] < r.history[0]
    # the energy at the optimum, U(z*) = ‖A z* + b − d‖²/(2σ²) + w/2 ‖z*‖², is the last logged mean
    # (within the last step)
    u_star = ((Ao @ z_star + bo - d) ** 2).sum() / (2 * sigma**2) + prior_weight * 0.5 * (z_star**2).sum()
    assert r.history[-1] == pytest.approx(float(u_star), rel=1e-6)


def test_super_resolution_converges_to_the_closed_form_map():
    model = linear(4, 4, latent=3, seed=2)
    P = torch.zeros(4, 16, dtype=torch.float64)  # 2×2 block means of a 4×4 grid, by hand
    for bi in range(2):
        for bj in range(2):
            for i in range(2):
                for j in range(2):
                    P[bi * 2 + bj, (2 * bi + i) * 4 + 2 * bj + j] = 0.25
    Ao, bo = P @ model.A.detach(), P @ model.b.detach()
    noise = 0.05 * torch.randn(4, generator=gen(3), dtype=torch.float64)
    d = Ao @ torch.tensor([1.0, 0.2, -0.5], dtype=torch.float64) + bo + noise
    z_star, _ = map_estimate(Ao, bo, d, 0.2)
    # a correlated valley (Λ's eigenvalues 1.3 … 75): restarts that start far out need the longer,
    # larger-step run
    r = condition_operator(
        model, block_average(2), d.reshape(1, 2, 2), n=4, steps=2000, lr=0.1, sigma=0.2, generator=gen(0)
    )
    assert (r.z - z_star).abs().max() < 1e-4
    assert r.num_data == 4


# --- the forward operators by hand ---------------------------------------------------------------
def test_block_average_by_hand():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert block_average(2)(x).tolist() == [[[[2.5, 4.5], [10.5, 12.5]]]]
    assert block_average((1, 2))(x)[0, 0, 1].tolist() == [4.5, 6.5]
    assert block_average(4)(torch.stack([x[0], 2 * x[0]])).reshape(-1).tolist() == [7.5, 15.0]
    with pytest.raises(
        GenzooError, match=r"^block_average\(3\): the realisations' 4×4 sides are not multiples of 3×3$"
    ):
        block_average(3)(x)


def test_proportions_by_hand():
    x = torch.tensor([[0.1, 0.9, 0.4], [0.6, 1.7, 2.2]]).reshape(1, 1, 2, 3)
    tau = 0.1
    sig = lambda v, t: 1 / (1 + math.exp(-(v - t) / tau))  # noqa: E731
    vals = x.reshape(-1).tolist()
    one = [sig(v, 0.5) for v in vals]  # soft 1[x > 0.5]
    two = proportions_operator(2, temperature=tau)(x)
    torch.testing.assert_close(two, torch.tensor([[1 - sum(one) / 6, sum(one) / 6]]))
    # three facies cut at 0.5 and 1.5, in two zones: columns 0–1 (zone 1) and column 2 (zone 0)
    zones = torch.tensor([[1, 1, 0], [1, 1, 0]])
    out = proportions_operator([0.5, 1.5], zones, temperature=tau)(x)
    member = [[1 - sig(v, 0.5), sig(v, 0.5) - sig(v, 1.5), sig(v, 1.5)] for v in vals]
    z0 = [member[2], member[5]]
    z1 = [member[0], member[1], member[3], member[4]]
    want = [sum(m[k] for m in z0) / 2 for k in range(3)] + [sum(m[k] for m in z1) / 4 for k in range(3)]
    torch.testing.assert_close(out, torch.tensor([want]))
    assert out.reshape(2, 3).sum(1).tolist() == pytest.approx([1.0, 1.0])
    hard = proportions_operator(3, temperature=1e-4)(
        x
    )  # K = 3 means thresholds 0.5, 1.5: hard counts 2, 2, 2 of 6
    torch.testing.assert_close(hard, torch.tensor([[1 / 3, 1 / 3, 1 / 3]]))
    with pytest.raises(GenzooError, match=r"zone 1 has no cells"):
        proportions_operator(2, torch.tensor([[0, 2], [2, 0]]))
    with pytest.raises(GenzooError, match=r"zones are 2×2, the realisations 2×3"):
        proportions_operator(2, torch.tensor([[0, 1], [1, 0]]))(x)
    with pytest.raises(GenzooError, match=r"strictly increasing"):
        proportions_operator([1.5, 0.5])


def test_points_operator_picks_the_cells():
    x = torch.arange(32.0).reshape(1, 2, 4, 4)
    assert points_operator([0, 3], [1, 2])(x).tolist() == [[1.0, 14.0]]
    assert points_operator([0, 3], [1, 2], channel=1)(x).tolist() == [[17.0, 30.0]]


# --- real models: scores recomputed by brute force -----------------------------------------------
def brute_force(r, rows, cols, values, tol, accept=0.95):
    """honoured, misfit, accepted, diversity recomputed with loops from r.x."""
    hon, mis = [], []
    for b in range(len(r.x)):
        errs = [abs(float(r.x[b, 0, i, j]) - float(v)) for i, j, v in zip(rows, cols, values)]
        hon.append(sum(e <= tol for e in errs) / len(errs))
        mis.append(math.sqrt(sum(e * e for e in errs) / len(errs)))
    acc = [h >= accept for h in hon]
    ok = [b for b in range(len(r.x)) if acc[b]]
    pairs = [(a, b) for i, a in enumerate(ok) for b in ok[i + 1 :]]
    dists = [math.sqrt(((r.x[a].double() - r.x[b].double()) ** 2).mean().item()) for a, b in pairs]
    return hon, mis, acc, (sum(dists) / len(dists) if dists else float("nan"))


@pytest.mark.parametrize(
    "name, params, rows, cols",
    [
        ("gan", {"arch": "fcn"}, [0, 2, 5, 7, 3], [1, 6, 3, 0, 4]),  # a 16×2×2 noise field: 64 latent dims
        ("vae", {"latent_dim": 4}, [0, 5, 7], [1, 3, 6]),  # 4 latent dims, 3 points: attainable on a manifold
    ],
)
def test_real_model_honours_attainable_points(name, params, rows, cols):
    model = genzoo.models.create(name, FIELD, seed=0, **params)
    with torch.no_grad():
        x0 = model.decode(model.sample_latent(1, generator=gen(42)))[0, 0]
    values = x0[rows, cols].double()
    model.train()
    frozen_param = next(model.parameters())
    frozen_param.requires_grad_(False)  # a mixed set of flags, restored as it was
    before = {k: v.clone() for k, v in model.state_dict().items()}
    r = condition_points(model, rows, cols, values, n=6, steps=300, generator=gen(0))
    s = float(values.std(correction=0))
    assert r.sigma == pytest.approx(0.01 * s) and r.tol == pytest.approx(0.1 * s)
    assert r.honoured.mean() >= 0.95 and r.accepted.sum() >= 5
    hon, mis, acc, div = brute_force(r, rows, cols, values, r.tol)
    assert r.honoured.tolist() == pytest.approx(hon) and r.accepted.tolist() == acc
    assert r.misfit.tolist() == pytest.approx(mis, rel=1e-5, abs=1e-9)
    assert r.diversity == pytest.approx(div, rel=1e-9) and r.diversity > 0
    assert model.training and not frozen_param.requires_grad
    assert all(p.requires_grad for p in model.parameters() if p is not frozen_param)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert f"{int(r.accepted.sum())}/6 realisations accepted" in r.summary()


def test_scores_with_a_strict_tolerance_by_brute_force():
    model = genzoo.models.create(
        "vae", FIELD, latent_dim=4, seed=0
    )  # 6 points, 4 dims: mostly not attainable
    rows, cols, values = [0, 1, 2, 3, 4, 7], [0, 7, 2, 5, 1, 7], [0.3, -0.2, 0.1, 0.5, 0.0, 0.2]
    r = condition_points(model, rows, cols, values, n=6, steps=40, tol=0.05, accept=0.5, generator=gen(1))
    hon, mis, acc, div = brute_force(r, rows, cols, values, 0.05, accept=0.5)
    assert r.honoured.tolist() == pytest.approx(hon) and r.accepted.tolist() == acc
    assert r.misfit.tolist() == pytest.approx(mis, rel=1e-5)
    assert (math.isnan(div) and math.isnan(r.diversity)) or r.diversity == pytest.approx(div, rel=1e-9)
    assert 0 < r.honoured.mean() < 1  # a case with both honoured and missed data


def test_critic_term_enters_the_energy():
    model = genzoo.models.create("gan", FIELD, arch="fcn", seed=0)
    rows, cols, values = [1, 4], [2, 6], [0.1, -0.1]
    r = condition_points(
        model, rows, cols, values, n=3, steps=1, sigma=0.5, critic_weight=2.0, generator=gen(5)
    )
    z0 = model.sample_latent(3, generator=gen(5))
    with torch.no_grad():
        x = model.decode(z0)
        misfit = ((x[:, 0, rows, cols] - torch.tensor(values)) ** 2).sum(1) / (2 * 0.25)
        u = misfit + 0.5 * (z0**2).flatten(1).sum(1) - 2.0 * model.score(x)
    assert r.history[0] == pytest.approx(float(u.mean()), rel=1e-5)
    with pytest.raises(
        GenzooError, match=r"^critic_weight needs a model with a critic \(score\(x\)\); model 'vae' has none$"
    ):
        condition_points(
            genzoo.models.create("vae", FIELD, latent_dim=4, seed=0), rows, cols, values, critic_weight=1.0
        )


def test_fcn_size_and_refusals():
    model = genzoo.models.create("gan", FIELD, arch="fcn", seed=0)
    r = condition_points(model, [12, 0], [12, 15], [0.0, 0.0], n=2, steps=2, size=16, generator=gen(0))
    assert r.x.shape == (2, 1, 16, 16) and r.z.shape == (2, 16, 4, 4)
    with pytest.raises(GenzooError, match=r"^point \(16, 0\) lies outside the 16×16 grid$"):
        condition_points(model, [16], [0], [0.0], size=16)
    with pytest.raises(GenzooError, match=r"no latent space"):
        condition_points(genzoo.models.create("kde", FIELD), [0], [0], [0.0])
    points = DataInfo("plane", "points", (2,), (float("-inf"), float("inf")))
    with pytest.raises(GenzooError, match=r"condition_points needs fields or images"):
        condition_points(genzoo.models.create("gan", points, seed=0), [0], [0], [0.0])
    with pytest.raises(
        GenzooError, match=r"^data has 3 values; the forward operator gives 4 per realisation$"
    ):
        condition_operator(model, block_average(4), [1.0, 2.0, 3.0])


def test_default_tolerances():
    facies = LinearG(
        torch.eye(16, 2, dtype=torch.float64), torch.zeros(16, dtype=torch.float64), 4, 4, (0.0, 2.0)
    )
    r = condition_points(facies, [0, 1, 2], [0, 1, 2], [0.0, 1.0, 1.0], n=2, steps=0, generator=gen(0))
    assert r.tol == 0.5 and r.sigma == pytest.approx(0.01 * math.sqrt(2) / 3) and r.history == []
    r = condition_points(facies, [0, 1], [0, 1], [2.0, 1.0], n=2, steps=0)  # integer codes in a finite range
    assert r.tol == 0.5
    cont = linear()
    r = condition_points(cont, [0, 1], [0, 1], [2.0, 1.0], n=2, steps=0)  # integers, unbounded: continuous
    assert r.tol == pytest.approx(0.05) and r.sigma == pytest.approx(0.005)
    r = condition_points(cont, [0], [0], [0.7], n=2, steps=0)  # one datum: s = 1
    assert r.tol == pytest.approx(0.1) and r.sigma == pytest.approx(0.01)


# --- points: checks and CSV ------------------------------------------------------------------------
def test_check_points():
    r, c, v = check_points(
        [2, 0, 2, 1], [3, 1, 3, 1], [2, 0.5, 2, 1], (3, 4)
    )  # (2, 3) twice, same value: merged, order kept
    assert r.tolist() == [2, 0, 1] and c.tolist() == [3, 1, 1] and v.tolist() == [2.0, 0.5, 1.0]
    assert r.dtype == c.dtype == torch.long and v.dtype == torch.float64
    with pytest.raises(GenzooError, match=r"^point \(3, 0\) lies outside the 3×4 grid$"):
        check_points([0, 3], [0, 0], [1, 1], (1, 3, 4))
    with pytest.raises(GenzooError, match=r"^point \(1, -1\) lies outside the 3×4 grid$"):
        check_points([1], [-1], [1], (3, 4))
    with pytest.raises(
        GenzooError, match=r"^point \(1, 2\) is given more than once with different values \(0.25 and 0.5\)$"
    ):
        check_points([0, 1, 1], [0, 2, 2], [1, 0.25, 0.5], (3, 4))
    with pytest.raises(GenzooError, match=r"^points: none given; give at least one \(row, col, value\)$"):
        check_points([], [], [], (3, 4))
    with pytest.raises(
        GenzooError, match=r"^points: 2 rows, 2 cols and 1 values; give one row, col and value per point$"
    ):
        check_points([0, 1], [0, 1], [1.0], (3, 4))
    with pytest.raises(GenzooError, match=r"^points: rows must be integer grid indices, got 1.5$"):
        check_points([1.5], [0], [1.0], (3, 4))
    with pytest.raises(GenzooError, match=r"^point \(0, 0\) has value nan; values must be finite$"):
        check_points([0], [0], [float("nan")], (3, 4))


def test_read_points_csv(tmp_path: Path):
    f = tmp_path / "wells.csv"
    f.write_text(" value , Row,col , name\n1.5, 2, 3, a\n\n-0.25,0,  7 ,b\n3e-1, 4.0 ,1, c\n")
    r, c, v = read_points_csv(f)
    assert r.tolist() == [2, 0, 4] and c.tolist() == [3, 7, 1] and v.tolist() == [1.5, -0.25, 0.3]
    assert r.dtype == torch.long and v.dtype == torch.float64
    f.write_text("row,col,porosity\n1,2,0.3\n")
    with pytest.raises(
        GenzooError, match=rf"^{f}: missing column\(s\) value \(a points CSV needs row, col, value\)$"
    ):
        read_points_csv(f)
    f.write_text("row,col,value\n1,2,0.3\n\n1,3,abc\n")
    with pytest.raises(GenzooError, match=rf"^{f}, line 4: cannot read value 'abc' as a number$"):
        read_points_csv(f)
    f.write_text("row,col,value\n1.5,2,0.3\n")
    with pytest.raises(GenzooError, match=rf"^{f}, line 2: row must be an integer grid index, got '1.5'$"):
        read_points_csv(f)
    f.write_text("row,col,value\n")
    with pytest.raises(GenzooError, match=rf"^{f}: no points"):
        read_points_csv(f)
    with pytest.raises(GenzooError, match=r"no such file"):
        read_points_csv(tmp_path / "absent.csv")


# --- the inference network against the exact posterior ---------------------------------------------
def test_inference_network_fits_the_mean_field_posterior():
    # latent columns nearly collinear at the data: a strongly correlated posterior, whose mean-field
    # variances 1/Λ_ii are well below its marginal variances (Λ⁻¹)_ii
    A = torch.zeros(16, 2, dtype=torch.float64)
    rows, cols = [0, 1, 2, 3], [0, 1, 2, 3]
    idx = [r * 4 + c for r, c in zip(rows, cols)]
    A[idx] = torch.tensor([[1.0, 0.8], [1.0, 1.2], [0.5, 0.3], [1.0, 1.0]], dtype=torch.float64)
    model = LinearG(A, torch.zeros(16, dtype=torch.float64), 4, 4)
    d = torch.tensor([0.9, 1.1, 0.35, 1.0], dtype=torch.float64)
    sigma = 0.5
    z_star, lam = map_estimate(A[idx], torch.zeros(4, dtype=torch.float64), d, sigma)
    mean_field, marginal = 1 / torch.diagonal(lam), torch.diagonal(torch.linalg.inv(lam))
    assert (marginal / mean_field).min() > 2  # the test tells the two apart
    post = fit_inference(model, points_operator(rows, cols), d, sigma=sigma, steps=2000, generator=gen(0))
    mu, sd = post.q()
    assert (mu - z_star).abs().max() < 1e-3
    torch.testing.assert_close(sd**2, mean_field, rtol=0.05, atol=0)
    # sampling: one forward pass, scored as the optimisation path scores
    r = post.sample(400, generator=gen(1))
    torch.testing.assert_close(r.z.mean(0), z_star, atol=0.05, rtol=0)
    hon, mis, acc, _ = brute_force(r, rows, cols, d, r.tol)
    assert (
        r.honoured.tolist() == pytest.approx(hon)
        and r.misfit.tolist() == pytest.approx(mis)
        and r.accepted.tolist() == acc
    )
    assert len(r.history) == 2000


def test_amortised_inference_network_on_the_prior_predictive():
    model = linear()
    F, sigma = points_operator(ROWS, COLS), 0.3
    idx = torch.tensor(ROWS) * 4 + torch.tensor(COLS)
    Ao, bo = model.A.detach()[idx], model.b.detach()[idx]
    post = fit_inference(
        model, F, prior_predictive(model, F, sigma), sigma=sigma, hidden=(), steps=2000, generator=gen(0)
    )
    g = gen(7)
    for _ in range(3):  # data sets never seen in training
        d = (
            Ao @ torch.randn(3, generator=g, dtype=torch.float64)
            + bo
            + sigma * torch.randn(6, generator=g, dtype=torch.float64)
        )
        z_star, lam = map_estimate(Ao, bo, d, sigma)
        mu, sd = post.q(d)
        assert (mu - z_star).abs().max() < 1e-3
        torch.testing.assert_close(sd**2, 1 / torch.diagonal(lam), rtol=0.02, atol=0)
    with pytest.raises(GenzooError, match=r"trained on a sampler of data sets; pass data="):
        post.sample(2)
    assert post.sample(3, d).x.shape == (3, 1, 4, 4)


def test_inference_on_a_batch_of_data_sets():
    model = linear()
    F = points_operator(ROWS, COLS)
    data = torch.randn(5, 6, generator=gen(3), dtype=torch.float64)
    post = fit_inference(model, F, data, sigma=0.3, steps=20, batch_size=2, hidden=(8,), generator=gen(0))
    assert post.sample(2, data[1]).x.shape == (2, 1, 4, 4)
    with pytest.raises(GenzooError, match=r"trained on 5 data sets; pass data="):
        post.sample(2)
    with pytest.raises(GenzooError, match=r"data has shape \(5, 4\)"):
        fit_inference(model, F, torch.zeros(5, 4), steps=1)


# --- repeatability ---------------------------------------------------------------------------------
def test_seeded_runs_repeat_bit_for_bit():
    model = genzoo.models.create("gan", FIELD, arch="fcn", seed=0)

    def run(seed: int):
        return condition_points(model, [1, 5], [2, 6], [0.1, -0.1], n=3, steps=15, generator=gen(seed))

    a, b, c = run(0), run(0), run(1)
    assert torch.equal(a.x, b.x) and torch.equal(a.z, b.z) and a.history == b.history
    assert not torch.equal(a.z, c.z)
    lin = linear()

    def fit(seed: int):
        return fit_inference(lin, block_average(2), torch.ones(4), steps=15, hidden=(8,), generator=gen(seed))

    p, q = fit(0), fit(0)
    assert all(torch.equal(s, t) for s, t in zip(p.q(), q.q())) and p.history == q.history
    assert torch.equal(p.sample(4, generator=gen(2)).x, q.sample(4, generator=gen(2)).x)
    assert not torch.equal(p.q()[0], fit(1).q()[0])


def test_progress_bar_runs(capsys):
    condition_points(linear(), [0], [0], [0.0], n=2, steps=3, progress=True, generator=gen(0))
