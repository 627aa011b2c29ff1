"""Conditioning a trained generator x = G(z) to data through its latent vector.

Any genzoo model with a latent space (`model.latent`: GANs, VAE decoders, autoencoders) is a
prior over fields: z ~ N(0, I), x = G(z). Data d (m values) are linked to a field by a
differentiable forward operator F with Gaussian noise, d = F(x) + ε, ε ~ N(0, σ² I): F picks
the cells of wells (`points_operator`), averages blocks (`block_average`,
super-resolution from a coarse image) or measures facies shares (`proportions_operator`).
The posterior over the latent vector is p(z | d) ∝ exp(−U(z)) with the energy

    U(z) = ‖F(G(z)) − d‖² / (2σ²) + prior_weight · ½‖z‖² − critic_weight · D(G(z))

— a sum over the data, not a mean, so that σ is the noise of one datum and the balance with the
prior does not change with m. The last term is the GAN critic's score of the realisation
(`model.score`, higher = more real): the content + perceptual loss of Yeh et al. 2016 as used
for geology by Mosser, Dubrule & Blunt 2018 (GeoGAN, arXiv:1802.05622), off by default. With
prior_weight = 1 and critic_weight = 0 the minimiser of U is the MAP estimate of z. The prior
term is that of N(0, I); for a model whose latent distribution is another (an autoencoder's
fitted code distribution, InfoGAN's categorical codes) it is an approximation — lower
prior_weight, or set it to 0 for a plain least-squares fit.

Two ways to condition:

* `condition_points` / `condition_operator` minimise U with Adam from n starting
  points z₀ ~ N(0, I) (`model.sample_latent`), all n restarts in one batch. The loss minimised
  is Σ_b U(z_b): its gradient in z_b is ∇U(z_b) alone and Adam works per coordinate, so each
  restart follows its own trajectory, independent of the others. The step size is cosine-annealed
  from `lr` to 0 over `steps`: Adam at a constant step keeps oscillating at the scale of lr,
  the annealed iterates settle on the minimiser — on the linear-Gaussian tests to < 1e-4 in
  1,000 steps at lr 0.05, or 2,000 at lr 0.1 for a correlated posterior (condition number ~60)
  where a restart starts far out; Adam follows a narrow valley slowly, so give ill-conditioned
  problems more steps. Each restart ends in a local minimum, so the n realisations are distinct
  conditioned samples (an optimisation ensemble, not exact posterior samples).
* `fit_inference` trains once an inference network q_φ(z | d) = N(μ_φ(d), diag σ_φ(d)²),
  then draws any number of conditioned realisations in one forward pass — in the spirit of Chan
  & Elsheikh 2019 (Comput. Geosci., arXiv:1807.05207), who stack an inference network on the
  generator, here as amortised variational inference (Kingma & Welling 2014): it minimises

      L(φ) = E_d [ E_{z ~ q_φ(·|d)} U(z; d) − Σ_i log σ_φ,i(d) ] = E_d KL(q_φ(·|d) ‖ p(·|d)) + const,

  by reparameterisation, z = μ + σ ⊙ ε, with `draws` values of ε per data set and step, in
  antithetic pairs (ε, −ε), and the entropy term through the path derivative only ("sticking the
  landing", Roeder, Wu & Duvenaud 2017: log q(z) with q's parameters held fixed, whose gradient
  vanishes where q is the posterior). On a Gaussian posterior the pairs cancel the gradient noise
  that the error of μ causes and the path derivative that of the entropy term; what is left comes
  from the posterior's correlations and vanishes without them. Adam runs at β₂ = 0.99: at the default
  0.999 the fit of σ(d) lagged (variances up to 20 % off after 3,000 steps on the amortised
  linear-Gaussian test, < 0.2 % now after 2,000). For one data set it fits a diagonal Gaussian
  to the posterior: on a Gaussian posterior N(z*, Λ⁻¹) its optimum is the exact mean z* with
  variances 1/Λ_ii — the mean-field variances, equal to the posterior's Σ_ii = (Λ⁻¹)_ii only
  when Λ is diagonal and smaller otherwise (the fitted q is overconfident where the latent
  coordinates are correlated a posteriori). Trained on a distribution of data sets (a (K, m)
  batch, or a sampler such as `prior_predictive`) the same network serves any of them.

Scoring (the same for both): datum j of realisation b is *honoured* if |F(x_b)_j − d_j| ≤ tol;
`honoured` is the share of data honoured, `misfit` the RMS data misfit √(mean_j (F(x_b)_j − d_j)²),
a realisation is `accepted` if honoured ≥ accept (default 0.95) and `diversity` is the mean
pairwise RMS distance √(mean (x_a − x_b)²) over the pairs of accepted realisations.

Defaults for the noise and the tolerance, with s the standard deviation of the data values
(population, over all of them) or 1 where that is 0 (a single datum, all values equal):

* σ = 0.01 · s — data nearly exact, the prior still keeping z typical;
* tol = 0.5 for categorical data — every value in {0, 1}, or every value an integer while the
  model's value_range is finite (facies codes): a datum is honoured when the field rounds to
  the observed facies — and tol = 0.1 · s otherwise (continuous fields).

The model is set to eval mode and its parameters frozen while conditioning; both are restored
afterwards. Everything runs on the model's device; with the same seeded `generator` a run is
repeatable bit for bit on the CPU.
"""

from __future__ import annotations

import contextlib
import csv
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.errors import GenzooError
from genzoo.nn.noise import noise
from genzoo.progress import Progress

Forward = Callable[[Tensor], Tensor]  # F: fields (B, *shape) → data (B, ...), differentiable
Sampler = Callable[[int, torch.Generator | None], Tensor]  # (k, generator) → k data sets (k, m)
Size = int | tuple[int, int] | None

__all__ = [
    "AmortisedPosterior",
    "ConditionResult",
    "InferenceNetwork",
    "block_average",
    "check_points",
    "condition_operator",
    "condition_points",
    "fit_inference",
    "points_operator",
    "prior_predictive",
    "proportions_operator",
    "read_points_csv",
]


# --- the result ------------------------------------------------------------------------------
@dataclass
class ConditionResult:
    """n conditioned realisations and how well they honour the data (all tensors detached, on the CPU).

    x (n, *shape) realisations G(z); z (n, *latent_shape) their latent vectors; honoured (n,) the
    share of the m data with |F(x)_j − d_j| ≤ tol; misfit (n,) the RMS data misfit; accepted (n,)
    honoured ≥ accept; diversity the mean pairwise RMS distance between accepted realisations
    (nan with fewer than 2); history the mean energy U over the restarts at each optimisation step,
    before its update (for an inference network, its training loss per step); sigma, tol, accept the
    settings used; num_data the m data scored."""

    x: Tensor
    z: Tensor
    honoured: Tensor
    misfit: Tensor
    accepted: Tensor
    diversity: float
    history: list[float]
    sigma: float
    tol: float
    accept: float
    num_data: int

    def summary(self) -> str:
        """One line: acceptance, mean share honoured, RMS misfit and diversity."""
        n, k = len(self.x), int(self.accepted.sum())
        div = "n/a (fewer than 2 accepted)" if math.isnan(self.diversity) else f"{self.diversity:.4g}"
        return (
            f"{k}/{n} realisations accepted (≥ {self.accept:.0%} of {self.num_data} data "
            f"within ±{self.tol:.3g}); "
            f"honoured {self.honoured.mean().item():.1%} on average, "
            f"RMS misfit {self.misfit.mean().item():.3g} "
            f"(σ = {self.sigma:.3g}), diversity {div}"
        )


def diversity(x: Tensor) -> float:
    """Mean over pairs a < b of √(mean (x_a − x_b)²); nan for fewer than 2 examples."""
    if len(x) < 2:
        return float("nan")
    flat = x.reshape(len(x), -1).double()
    dist = torch.cdist(flat, flat, compute_mode="donot_use_mm_for_euclid_dist") / math.sqrt(flat.shape[1])
    i, j = torch.triu_indices(len(x), len(x), offset=1)
    return float(dist[i, j].mean())


def honoured_exactly(x: Tensor, *points: Tensor) -> tuple[Tensor, Tensor]:
    """For fields (n, 1, H, W) meant to honour the data (rows, cols, values) exactly (kriging) — or
    blocks (n, 1, D, H, W) the data (layers, rows, cols, values): per realisation, the share of the
    data within 1e-6 of their scale (max(1, max |d|)) and the RMS misfit."""
    *index, values = points
    err = (x[(slice(None), 0, *index)].double() - values).abs()
    honoured = (err <= 1e-6 * max(1.0, float(values.abs().max()))).double().mean(1)
    return honoured, err.pow(2).mean(1).sqrt()


def _result(
    x: Tensor,
    z: Tensor,
    pred: Tensor,
    d: Tensor,
    *,
    tol: float,
    accept: float,
    sigma: float,
    history: list[float],
) -> ConditionResult:
    """Score realisations x with F(x) = pred (n, m) against d (m,): the one scoring function of both paths."""
    err = (pred.detach().double() - d.detach().double()).abs().cpu()
    honoured = (err <= tol).double().mean(1)
    accepted = honoured >= accept - 1e-12
    x, z = x.detach().cpu(), z.detach().cpu()
    return ConditionResult(
        x=x,
        z=z,
        honoured=honoured,
        misfit=err.pow(2).mean(1).sqrt(),
        accepted=accepted,
        diversity=diversity(x[accepted]),
        history=history,
        sigma=float(sigma),
        tol=float(tol),
        accept=float(accept),
        num_data=err.shape[1],
    )


# --- points ----------------------------------------------------------------------------------
def _indices(a: Any, what: str) -> Tensor:
    t = torch.as_tensor(a)
    if t.dim() > 1:
        raise GenzooError(f"points: {what} must be a list or a 1-D tensor, got shape {tuple(t.shape)}")
    t = t.reshape(-1)
    if t.dtype == torch.bool or t.is_complex():
        raise GenzooError(f"points: {what} must be integer grid indices, got {t.dtype}")
    if t.is_floating_point():
        bad = ~torch.isfinite(t) | (t != t.round())
        if bad.any():
            raise GenzooError(f"points: {what} must be integer grid indices, got {t[bad][0].item()}")
    return t.long().cpu()


def check_points(rows: Any, cols: Any, values: Any, shape: Sequence[int]) -> tuple[Tensor, Tensor, Tensor]:
    """Validate point data on an H×W grid (`shape` (H, W), or (C, H, W): its last two sides).

    Returns rows, cols as LongTensors and values as a float64 tensor (m,), with points given
    more than once with the same value merged (the first kept, the order otherwise unchanged).
    One-line GenzooErrors: no points; lengths that differ; non-integer rows/cols; non-finite
    values; "point (r, c) lies outside the H×W grid"; "point (r, c) is given more than once with
    different values (a and b)"."""
    sides = tuple(int(s) for s in tuple(shape)[-2:])
    (r, c), v = _check_nodes([rows, cols], values, sides, ("rows", "cols"), "grid")
    return r, c, v


def check_block_points(
    layers: Any, rows: Any, cols: Any, values: Any, shape: Sequence[int]
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Validate point data in a D×H×W block (`shape` (D, H, W), or (C, D, H, W)): as
    `check_points`, with layer indices; returns layers, rows, cols (LongTensors), values.
    A well is a vertical line of such points: one (row, col) at many layers."""
    sides = tuple(int(s) for s in tuple(shape)[-3:])
    (ll, r, c), v = _check_nodes([layers, rows, cols], values, sides, ("layers", "rows", "cols"), "block")
    return ll, r, c, v


def _check_nodes(
    index: list[Any], values: Any, sides: tuple[int, ...], names: tuple[str, ...], kind: str
) -> tuple[list[Tensor], Tensor]:
    idx = [_indices(a, name) for a, name in zip(index, names)]
    v = torch.as_tensor(values, dtype=torch.float64)
    if v.dim() > 1:
        raise GenzooError(f"points: values must be a list or a 1-D tensor, got shape {tuple(v.shape)}")
    v = v.reshape(-1).cpu()
    singular = [n[:-1] for n in names]
    if len({len(t) for t in idx} | {len(v)}) > 1:
        counts = ", ".join(f"{len(t)} {n}" for t, n in zip(idx[:-1], names[:-1]))
        raise GenzooError(
            f"points: {counts}, {len(idx[-1])} {names[-1]} and {len(v)} values; give one "
            f"{', '.join(singular)} and value per point"
        )
    if len(v) == 0:
        raise GenzooError(f"points: none given; give at least one ({', '.join(singular)}, value)")

    def where(i: int) -> str:
        return ", ".join(str(int(t[i])) for t in idx)

    outside = torch.zeros(len(v), dtype=torch.bool)
    for t, side in zip(idx, sides):
        outside |= (t < 0) | (t >= side)
    if outside.any():
        i = int(outside.nonzero()[0])
        raise GenzooError(f"point ({where(i)}) lies outside the {'×'.join(map(str, sides))} {kind}")
    bad = ~torch.isfinite(v)
    if bad.any():
        i = int(bad.nonzero()[0])
        raise GenzooError(f"point ({where(i)}) has value {float(v[i])}; values must be finite")
    flat = idx[0]
    for t, side in zip(idx[1:], sides[1:]):
        flat = flat * side + t
    uniq, inv = torch.unique(flat, return_inverse=True)
    if len(uniq) == len(v):
        return idx, v
    vmin = torch.full((len(uniq),), math.inf, dtype=v.dtype).scatter_reduce(0, inv, v, "amin")
    vmax = torch.full((len(uniq),), -math.inf, dtype=v.dtype).scatter_reduce(0, inv, v, "amax")
    conflict = (vmin != vmax)[inv]
    if conflict.any():
        i = int(conflict.nonzero()[0])
        same = (inv == inv[i]).nonzero().reshape(-1)
        other = next(float(v[j]) for j in same if v[j] != v[i])
        raise GenzooError(
            f"point ({where(i)}) is given more than once with different values ({float(v[i])} and {other})"
        )
    first = torch.full((len(uniq),), len(v), dtype=torch.long).scatter_reduce(
        0, inv, torch.arange(len(v)), "amin"
    )
    keep = first.sort().values
    return [t[keep] for t in idx], v[keep]


def read_points_csv(path: str | Path, layers: bool = False) -> tuple[Tensor, ...]:
    """Point data from a CSV file with a header naming the columns row, col and value (in any order,
    case and surrounding whitespace ignored; other columns ignored; blank lines skipped).

    Returns rows, cols (LongTensors) and values (float64) — with `layers`, a column layer as well
    and layers, rows, cols, values (points in a 3-D block; a well is one row, col at many layers) —,
    unchecked against a grid — pass them to
    `check_points` or `condition_points`. One-line GenzooErrors: "FILE: missing
    column(s) value (a points CSV needs row, col, value)"; "FILE, line N: cannot read value 'x' as a
    number"; "FILE, line N: row must be an integer grid index, got '1.5'"; a non-finite value; a
    file with no points."""
    try:
        f = open(path, newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise GenzooError(f"{path}: no such file") from None
    except OSError as exc:
        raise GenzooError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    with f:
        try:
            return _read_points(csv.reader(f), path, ("layer", "row", "col", "value") if layers else NEED)
        except UnicodeDecodeError as exc:
            raise GenzooError(f"{path}: not UTF-8 text (byte {exc.start}); save the CSV as UTF-8") from None
        except csv.Error as exc:
            raise GenzooError(
                f"{path}: not a readable CSV ({str(exc).splitlines()[0] if str(exc) else 'csv.Error'})"
            ) from None


MAX_INDEX = 2**31 - 1  # a row or column index beyond this fits no grid


NEED = ("row", "col", "value")


def _read_points(reader: Any, path: str | Path, need: tuple[str, ...] = NEED) -> tuple[Tensor, ...]:
    names_of = ", ".join(need)
    header = next((rec for rec in reader if any(cell.strip() for cell in rec)), None)
    if header is None:
        raise GenzooError(f"{path}: empty file (a points CSV needs a header {names_of})")
    names = [cell.strip().lower() for cell in header]
    missing = [k for k in need if k not in names]
    if missing:
        raise GenzooError(f"{path}: missing column(s) {', '.join(missing)} (a points CSV needs {names_of})")
    where = {k: names.index(k) for k in need}
    index: list[list[int]] = [[] for _ in need[:-1]]
    values: list[float] = []
    for rec in reader:
        if not any(cell.strip() for cell in rec):
            continue
        line = reader.line_num
        raw = {k: (rec[i].strip() if i < len(rec) else "") for k, i in where.items()}
        num: dict[str, float] = {}
        for k in need:
            try:
                num[k] = float(raw[k])
            except ValueError:
                raise GenzooError(
                    f"{path}, line {line}: cannot read {k} {raw[k][:40]!r} as a number"
                ) from None
        for k in need[:-1]:
            if not math.isfinite(num[k]) or num[k] != round(num[k]):
                raise GenzooError(
                    f"{path}, line {line}: {k} must be an integer grid index, got {raw[k][:40]!r}"
                )
            if abs(num[k]) > MAX_INDEX:
                raise GenzooError(f"{path}, line {line}: {k} {raw[k][:40]!r} lies outside any grid")
        if not math.isfinite(num["value"]):
            raise GenzooError(f"{path}, line {line}: value {raw['value'][:40]!r} is not a finite number")
        for out, k in zip(index, need[:-1]):
            out.append(int(num[k]))
        values.append(num["value"])
    if not values:
        raise GenzooError(
            f"{path}: no points, only a header (a points CSV has one line {names_of} per point)"
        )
    return (*(torch.tensor(t, dtype=torch.long) for t in index), torch.tensor(values, dtype=torch.float64))


# --- forward operators -----------------------------------------------------------------------
def points_operator(rows: Any, cols: Any, channel: int = 0, layers: Any = None) -> Forward:
    """F(x) = x[:, channel, rows, cols]: the field's values at the m points, (B, C, H, W) → (B, m);
    with `layers`, x[:, channel, layers, rows, cols] of blocks (B, C, D, H, W) (wells)."""
    r, c = _indices(rows, "rows"), _indices(cols, "cols")
    if len(r) != len(c):
        raise GenzooError(f"points: {len(r)} rows and {len(c)} cols; give one row and col per point")
    index = [r, c] if layers is None else [_indices(layers, "layers"), r, c]
    if len(index[0]) != len(r):
        raise GenzooError(f"points: {len(index[0])} layers and {len(r)} rows; give one layer per point")
    top = tuple(int(t.max()) if len(t) else -1 for t in index)
    dims = len(index) + 2

    def forward(x: Tensor) -> Tensor:
        if x.dim() != dims:
            kind = "fields or images (B, C, H, W)" if dims == 4 else "blocks (B, C, D, H, W)"
            raise GenzooError(f"points need {kind}, got shape {tuple(x.shape)}")
        if any(t >= side for t, side in zip(top, x.shape[2:])) or not 0 <= channel < x.shape[1]:
            where = ", ".join(f"{n} {t}" for n, t in zip(("layer", "row", "col")[-len(top) :], top))
            raise GenzooError(
                f"points (up to {where}, channel {channel}) do not fit realisations of shape "
                f"{tuple(x.shape[1:])}"
            )
        return x[(slice(None), channel, *(t.to(x.device) for t in index))]

    return forward


def block_average(factor: int | tuple[int, int]) -> Forward:
    """F(x) = avg_pool2d(x, factor): the mean of each factor×factor block per channel,
    (B, C, H, W) → (B, C, H/f, W/f) — the coarse image of super-resolution. `factor` is an int or
    (f_rows, f_cols); the sides must be multiples of it."""
    fh, fw = (factor, factor) if isinstance(factor, int) else (int(factor[0]), int(factor[1]))
    if fh < 1 or fw < 1:
        raise GenzooError(f"block_average: factor must be positive, got {factor}")

    def forward(x: Tensor) -> Tensor:
        if x.dim() != 4:
            raise GenzooError(
                f"block_average needs fields or images (B, C, H, W), got shape {tuple(x.shape)}"
            )
        if x.shape[2] % fh or x.shape[3] % fw:
            sides = f"{x.shape[2]}×{x.shape[3]}"
            raise GenzooError(
                f"block_average({factor}): the realisations' {sides} sides are not multiples of {fh}×{fw}"
            )
        return F.avg_pool2d(x, (fh, fw))

    return forward


def proportions_operator(
    k_or_thresholds: int | Sequence[float], zones: Any = None, *, temperature: float = 0.05, channel: int = 0
) -> Forward:
    """F(x) = the soft share of each facies (per zone): (B, C, H, W) → (B, K) or (B, Z·K).

    Facies are K intervals of the value axis cut at thresholds t_1 < … < t_{K−1}: an int K means
    facies coded 0, …, K−1 with t_i = i − ½; a sequence gives the thresholds. A cell's membership
    of facies k is the smoothed indicator s_k − s_{k+1}, s_k = sigmoid((x − t_k)/temperature)
    (s_0 = 1, s_K = 0), which is ≥ 0, sums to 1 over k, and tends to the hard indicator as
    temperature → 0. The share of facies k in a zone is the mean membership over its cells.
    `zones` None: one zone, the whole grid; else an (H, W) integer map of zone labels 0, …, Z−1
    (each used), and the output lists zone 0's K shares, then zone 1's, …"""
    if isinstance(k_or_thresholds, bool):
        raise GenzooError("proportions_operator: give the number of facies K ≥ 2 or a list of thresholds")
    if isinstance(k_or_thresholds, int):
        if k_or_thresholds < 2:
            raise GenzooError(f"proportions_operator: needs K ≥ 2 facies, got {k_or_thresholds}")
        thresholds = [i + 0.5 for i in range(k_or_thresholds - 1)]
    else:
        thresholds = [float(t) for t in k_or_thresholds]
        increasing = all(b > a for a, b in zip(thresholds, thresholds[1:]))
        if not thresholds or not all(math.isfinite(t) for t in thresholds) or not increasing:
            raise GenzooError(
                f"proportions_operator: thresholds must be finite and strictly increasing, got {thresholds}"
            )
    if not temperature > 0:
        raise GenzooError(f"proportions_operator: temperature must be positive, got {temperature}")
    weights = None
    if zones is not None:
        lab = torch.as_tensor(zones)
        if lab.dim() != 2 or lab.is_floating_point() or lab.dtype == torch.bool:
            raise GenzooError(
                f"proportions_operator: zones must be an (H, W) map of integer labels, "
                f"got {lab.dtype} of shape {tuple(lab.shape)}"
            )
        lab = lab.long().cpu()
        if lab.min() < 0:
            raise GenzooError(f"proportions_operator: zone labels must be 0, 1, …, got {int(lab.min())}")
        counts = torch.bincount(lab.reshape(-1))
        if (counts == 0).any():
            empty = int((counts == 0).nonzero()[0])
            raise GenzooError(
                f"proportions_operator: zone {empty} has no cells (labels must be 0, …, Z−1, each used)"
            )
        weights = (
            F.one_hot(lab.reshape(-1), len(counts)).double().T / counts[:, None]
        )  # (Z, H·W), rows sum to 1
    t_cpu = torch.tensor(thresholds)
    zones_shape = tuple(torch.as_tensor(zones).shape) if zones is not None else ()

    def forward(x: Tensor) -> Tensor:
        if x.dim() != 4 or not 0 <= channel < x.shape[1]:
            raise GenzooError(
                f"proportions need fields or images (B, C, H, W) with channel {channel}, got {tuple(x.shape)}"
            )
        v = x[:, channel].reshape(len(x), -1, 1)  # (B, P, 1)
        s = torch.sigmoid((v - t_cpu.to(v)) / temperature)  # (B, P, K−1): soft 1[x > t_k]
        one, zero = torch.ones_like(v), torch.zeros_like(v)
        member = torch.cat([one, s], 2) - torch.cat([s, zero], 2)  # (B, P, K)
        if weights is None:
            return member.mean(1)
        if tuple(x.shape[2:]) != zones_shape:
            zh, zw = zones_shape
            raise GenzooError(
                f"proportions_operator: zones are {zh}×{zw}, the realisations {x.shape[2]}×{x.shape[3]}"
            )
        return torch.einsum("zp,bpk->bzk", weights.to(member), member).reshape(len(x), -1)

    return forward


# --- shared machinery ------------------------------------------------------------------------
@contextlib.contextmanager
def _frozen_eval(model: nn.Module) -> Iterator[None]:
    """Eval mode and no parameter gradients inside; the previous mode and requires_grad flags after."""
    training = model.training
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        model.train(training)


def _check_model(model: Any, critic_weight: float) -> None:
    if not getattr(model, "latent", False):
        name = getattr(model, "name", "") or type(model).__name__
        raise GenzooError(
            f"model {name!r} has no latent space to condition through; use a GAN, a VAE or an autoencoder"
        )
    if critic_weight and not callable(getattr(model, "score", None)):
        name = getattr(model, "name", "") or type(model).__name__
        raise GenzooError(f"critic_weight needs a model with a critic (score(x)); model {name!r} has none")


def _check_settings(
    n: int,
    steps: int,
    lr: float,
    prior_weight: float,
    critic_weight: float,
    accept: float,
    tol: float | None,
    sigma: float | None,
) -> None:
    if n < 1:
        raise GenzooError(f"n must be at least 1, got {n}")
    if steps < 0:
        raise GenzooError(f"steps must be ≥ 0, got {steps}")
    if not lr > 0:
        raise GenzooError(f"lr must be positive, got {lr}")
    if not prior_weight >= 0 or not critic_weight >= 0:
        raise GenzooError(
            f"prior_weight and critic_weight must be ≥ 0, got {prior_weight} and {critic_weight}"
        )
    if not 0 <= accept <= 1:
        raise GenzooError(f"accept must be a share in [0, 1], got {accept}")
    if tol is not None and not tol >= 0:
        raise GenzooError(f"tol must be ≥ 0, got {tol}")
    if sigma is not None and not sigma > 0:
        raise GenzooError(f"sigma must be positive, got {sigma}")


def _dtype(model: nn.Module) -> torch.dtype:
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)


def _device(model: nn.Module) -> torch.device:
    dev = getattr(model, "device", None)
    if isinstance(dev, torch.device):
        return dev
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def _latent_shape(model: Any, size: Size) -> tuple[int, ...]:
    if size is None:
        return tuple(model.latent_shape())
    try:
        return tuple(model.latent_shape(size))
    except TypeError:
        raise GenzooError(
            f"size: model {getattr(model, 'name', type(model).__name__)!r} generates one size only"
        ) from None


def _randn(
    shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device, dtype: torch.dtype
) -> Tensor:
    """N(0, I) draws from `generator` on its own device (or the global RNG on `device`), then moved."""
    return noise(torch.randn, shape, generator, device, dtype)


def _start(model: Any, n: int, generator: torch.Generator | None, size: Size) -> Tensor:
    """n starting points: model.sample_latent (the prior), or N(0, I) of latent_shape(size) with `size`."""
    device, dtype = _device(model), _dtype(model)
    if size is None:
        with torch.no_grad():
            z = model.sample_latent(n, generator=generator)
        return z.detach().to(device=device, dtype=dtype)
    return _randn((n, *_latent_shape(model, size)), generator, device, dtype)


def _scale(values: Tensor) -> float:
    """s: the population standard deviation of the data values, or 1 where it is 0 (or undefined)."""
    s = float(values.double().std(correction=0)) if values.numel() > 1 else 0.0
    return s if s > 0 and math.isfinite(s) else 1.0


def _categorical(values: Tensor, info: Any) -> bool:
    v = values.double()
    if bool(((v == 0) | (v == 1)).all()):
        return True
    low, high = getattr(info, "value_range", (-math.inf, math.inf))
    return math.isfinite(low) and math.isfinite(high) and bool((v == v.round()).all())


def _defaults(values: Tensor, info: Any, sigma: float | None, tol: float | None) -> tuple[float, float]:
    """(σ, tol) with the module's defaults: σ = 0.01·s; tol = 0.5 (categorical) or 0.1·s."""
    s = _scale(values)
    sig = 0.01 * s if sigma is None else float(sigma)
    if tol is None:
        tol = 0.5 if _categorical(values, info) else 0.1 * s
    return sig, float(tol)


def _energy(
    model: Any,
    forward: Forward,
    z: Tensor,
    d: Tensor,
    sigma: float,
    prior_weight: float,
    critic_weight: float,
) -> tuple[Tensor, Tensor, Tensor]:
    """U(z) per example (B,), with x = G(z) and F(x) (B, m); d is (m,) or (B, m)."""
    x = model.decode(z)
    pred = forward(x).reshape(len(z), -1)
    u = (pred - d).pow(2).sum(1) / (2 * sigma**2)
    if prior_weight:
        u = u + prior_weight * 0.5 * z.reshape(len(z), -1).pow(2).sum(1)
    if critic_weight:
        u = u - critic_weight * model.score(x).reshape(len(z))
    return u, x, pred


def _data_vector(data: Any, m: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    d = torch.as_tensor(data).to(device=device, dtype=dtype).reshape(-1)
    if d.numel() != m:
        raise GenzooError(f"data has {d.numel()} values; the forward operator gives {m} per realisation")
    if not bool(torch.isfinite(d).all()):
        raise GenzooError("data must be finite (no nan or inf)")
    return d


def _optimise(
    model: Any,
    forward: Forward,
    data: Any,
    n: int,
    *,
    steps: int,
    lr: float,
    sigma: float | None,
    prior_weight: float,
    critic_weight: float,
    tol: float | None,
    accept: float,
    generator: torch.Generator | None,
    size: Size,
    progress: bool,
    desc: str,
) -> ConditionResult:
    """Minimise Σ_b U(z_b) with Adam (lr cosine-annealed to 0) from n prior draws; score the result."""
    _check_model(model, critic_weight)
    _check_settings(n, steps, lr, prior_weight, critic_weight, accept, tol, sigma)
    with _frozen_eval(model):
        z = _start(model, n, generator, size)
        with torch.no_grad():
            m = forward(model.decode(torch.zeros_like(z[:1]))).numel()
        d = _data_vector(data, m, z.device, z.dtype)
        sigma, tol = _defaults(d, getattr(model, "info", None), sigma, tol)
        z.requires_grad_(True)
        opt = torch.optim.Adam([z], lr=lr)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1))
        logged: list[Tensor] = []
        with Progress(steps, enabled=progress, desc=desc, unit="step", brief=True) as bar:
            for step in range(steps):
                u, _, _ = _energy(model, forward, z, d, sigma, prior_weight, critic_weight)
                opt.zero_grad(set_to_none=True)
                u.sum().backward()
                opt.step()
                schedule.step()
                logged.append(u.detach().mean())
                bar.update()
                if progress and step % 50 == 0:
                    bar.set_postfix(loss=f"{logged[-1].item():.4g}")
        with torch.no_grad():
            z = z.detach()
            x = model.decode(z)
            pred = forward(x).reshape(n, -1)
    history = torch.stack(logged).tolist() if logged else []
    return _result(x, z, pred, d, tol=tol, accept=accept, sigma=sigma, history=history)


# --- optimisation ----------------------------------------------------------------------------
def condition_points(
    model: Any,
    rows: Any,
    cols: Any,
    values: Any,
    n: int = 16,
    *,
    steps: int = 500,
    lr: float = 0.05,
    sigma: float | None = None,
    prior_weight: float = 1.0,
    critic_weight: float = 0.0,
    tol: float | None = None,
    accept: float = 0.95,
    generator: torch.Generator | None = None,
    size: Size = None,
    channel: int = 0,
    progress: bool = False,
    layers: Any = None,
) -> ConditionResult:
    """n realisations of a latent model honouring point data (wells): x[channel, rows_j, cols_j] ≈ values_j
    (for a model of 3-D blocks, x[channel, layers_j, rows_j, cols_j] with `layers`).

    Minimises, per restart, U(z) = Σ_j (G(z)[channel, r_j, c_j] − v_j)² / (2σ²) + prior_weight·½‖z‖²
    − critic_weight·score(G(z)) with Adam from z₀ ~ model.sample_latent(n, generator=generator), the
    step cosine-annealed from `lr` to 0 over `steps` (see the module docstring). Defaults: σ = 0.01·s,
    s the standard deviation of the values (1 if they are all equal); tol = 0.5 for facies (values
    all 0/1, or all integers with a finite value_range: honoured = the field rounds to the observed
    facies), else 0.1·s. `size` (arch=fcn GANs) conditions a realisation of that size, the grid
    the points are checked against. The points are validated by `check_points`."""
    info = getattr(model, "info", None)
    shape = tuple(getattr(info, "shape", ()))
    if len(shape) == 4:  # blocks (C, D, H, W): wells need layers
        if layers is None:
            raise GenzooError(f"{info.name} holds 3-D blocks: give the points' layers as well (layers=)")
        if not 0 <= channel < shape[0]:
            raise GenzooError(f"channel must be in [0, {shape[0] - 1}], got {channel}")
        grid = shape[1:] if size is None else ((size,) * 3 if isinstance(size, int) else tuple(size))
        ll, r, c, v = check_block_points(layers, rows, cols, values, grid)
        forward = points_operator(r, c, channel, layers=ll)
    elif len(shape) != 3:
        what = (
            f"{info.name} is {info.kind} data of shape {shape}"
            if info is not None
            else "this model has no grid"
        )
        raise GenzooError(
            f"condition_points needs fields or images (C, H, W); {what} — use condition_operator"
        )
    else:
        if layers is not None:
            raise GenzooError(f"layers= are for 3-D blocks; {info.name} holds 2-D fields or images")
        if not 0 <= channel < shape[0]:
            raise GenzooError(f"channel must be in [0, {shape[0] - 1}], got {channel}")
        grid = shape[1:] if size is None else ((size, size) if isinstance(size, int) else tuple(size))
        r, c, v = check_points(rows, cols, values, grid)
        forward = points_operator(r, c, channel)
    return _optimise(
        model,
        forward,
        v,
        n,
        steps=steps,
        lr=lr,
        sigma=sigma,
        prior_weight=prior_weight,
        critic_weight=critic_weight,
        tol=tol,
        accept=accept,
        generator=generator,
        size=size,
        progress=progress,
        desc="condition points",
    )


def condition_operator(
    model: Any,
    forward: Forward,
    data: Any,
    n: int = 16,
    *,
    steps: int = 500,
    lr: float = 0.05,
    sigma: float | None = None,
    prior_weight: float = 1.0,
    critic_weight: float = 0.0,
    tol: float | None = None,
    accept: float = 0.95,
    generator: torch.Generator | None = None,
    size: Size = None,
    progress: bool = False,
) -> ConditionResult:
    """n realisations of a latent model with F(G(z)) ≈ data, for a differentiable forward operator F.

    F maps realisations (B, *shape) to (B, ...) with m values each (e.g. `block_average`,
    `proportions_operator`); `data` holds m values in any shape. Minimises per restart
    U(z) = ‖F(G(z)) − d‖²/(2σ²) + prior_weight·½‖z‖² − critic_weight·score(G(z)), as
    `condition_points` does, with the same defaults for σ and tol computed from the data values."""
    return _optimise(
        model,
        forward,
        data,
        n,
        steps=steps,
        lr=lr,
        sigma=sigma,
        prior_weight=prior_weight,
        critic_weight=critic_weight,
        tol=tol,
        accept=accept,
        generator=generator,
        size=size,
        progress=progress,
        desc="condition",
    )


# --- amortised inference ---------------------------------------------------------------------
class InferenceNetwork(nn.Module):
    """q_φ(z | d) = N(μ_φ(d), diag σ_φ(d)²): an MLP from a data vector d (m,) to (μ, log σ).

    The input is standardised, (d − shift)/scale (buffers, set from the training data), then
    Linear → SiLU per hidden width → Linear to 2L (L = prod(latent_shape)). `hidden=()` makes
    μ and log σ affine in d — exact for a linear-Gaussian problem, whose posterior mean is affine
    in d and covariance constant. The last layer starts at zero: q starts as the prior N(0, I)."""

    def __init__(
        self,
        data_dim: int,
        latent_shape: Sequence[int],
        hidden: Sequence[int] = (128, 128),
        *,
        shift: Tensor | None = None,
        scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.latent_shape = tuple(int(s) for s in latent_shape)
        self.latent_dim = math.prod(self.latent_shape)
        layers: list[nn.Module] = []
        width = data_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.SiLU()]
            width = h
        last = nn.Linear(width, 2 * self.latent_dim)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*layers, last)
        shift = torch.zeros(data_dim) if shift is None else shift.detach().clone().float().reshape(data_dim)
        self.register_buffer("shift", shift)
        self.register_buffer("scale", torch.tensor(float(scale)))

    def forward(self, d: Tensor) -> tuple[Tensor, Tensor]:
        """d (B, m) → μ (B, L), log σ (B, L)."""
        h = self.net((d.to(self.shift) - self.shift) / self.scale)
        mu, log_std = h.chunk(2, dim=1)
        return mu, log_std

    def rsample(
        self, d: Tensor, draws: int, generator: torch.Generator | None = None, *, antithetic: bool = False
    ) -> tuple[Tensor, Tensor, Tensor]:
        """z = μ + σ ⊙ ε, `draws` per data set: z (B·draws, *latent_shape) (data set-major), μ and
        log σ (B, L).
        `antithetic`: ε in pairs (ε, −ε) (the second half of each data set's draws negates the first;
        `draws` even) — the draws are then not independent, but their mean is unbiased."""
        mu, log_std = self(d)
        if antithetic:
            if draws % 2:
                raise GenzooError(f"draws must be even for antithetic pairs, got {draws}")
            half = _randn((len(d), draws // 2, self.latent_dim), generator, mu.device, mu.dtype)
            eps = torch.cat([half, -half], 1)
        else:
            eps = _randn((len(d), draws, self.latent_dim), generator, mu.device, mu.dtype)
        z = mu[:, None] + log_std.exp()[:, None] * eps
        return z.reshape(len(d) * draws, *self.latent_shape), mu, log_std


class AmortisedPosterior:
    """A trained `InferenceNetwork` with its generator, forward operator and scoring settings
    (returned by `fit_inference`): `sample` gives conditioned realisations in one forward pass."""

    def __init__(
        self,
        model: Any,
        forward: Forward,
        network: InferenceNetwork,
        data: Tensor | None,
        *,
        sigma: float,
        tol: float,
        accept: float,
        size: Size,
        history: list[float],
        num_sets: int | None,
    ) -> None:
        self.model, self.forward, self.network, self.data = model, forward, network, data
        self.sigma, self.tol, self.accept, self.size, self.history = sigma, tol, accept, size, history
        self.num_sets = num_sets  # K data sets trained on; None for a sampler

    def _data(self, data: Any) -> Tensor:
        p = self.network.shift
        if data is None:
            if self.data is None:
                how = f"{self.num_sets} data sets" if self.num_sets else "a sampler of data sets"
                raise GenzooError(
                    f"this inference network was trained on {how}; pass data= (the data set to condition on)"
                )
            return self.data
        return _data_vector(data, p.numel(), p.device, p.dtype)

    @torch.no_grad()
    def q(self, data: Any = None) -> tuple[Tensor, Tensor]:
        """The mean μ(d) and standard deviations σ(d) of q(z | d), each (*latent_shape,)."""
        mu, log_std = self.network(self._data(data)[None])
        shape = self.network.latent_shape
        return mu.reshape(shape), log_std.exp().reshape(shape)

    def sample(
        self, n: int, data: Any = None, *, generator: torch.Generator | None = None
    ) -> ConditionResult:
        """n conditioned realisations x = G(z), z ~ q(z | d), in one forward pass, scored against d as
        the optimisation path scores them; `data` defaults to the one data set trained on."""
        if n < 1:
            raise GenzooError(f"n must be at least 1, got {n}")
        d = self._data(data)
        with _frozen_eval(self.model), torch.no_grad():
            z, _, _ = self.network.rsample(d[None], n, generator)
            z = z.to(dtype=_dtype(self.model))
            x = self.model.decode(z)
            pred = self.forward(x).reshape(n, -1)
        return _result(
            x, z, pred, d, tol=self.tol, accept=self.accept, sigma=self.sigma, history=list(self.history)
        )


def prior_predictive(model: Any, forward: Forward, sigma: float, *, size: Size = None) -> Sampler:
    """A sampler of synthetic data sets d = F(G(z)) + σ ε, z ~ model.sample_latent (or N(0, I) of
    latent_shape(size)), ε ~ N(0, I): (k, generator) → (k, m), to train an inference network that
    serves any data set from the prior's predictive distribution."""
    if not sigma > 0:
        raise GenzooError(f"sigma must be positive, got {sigma}")

    def sample(k: int, generator: torch.Generator | None = None) -> Tensor:
        with _frozen_eval(model), torch.no_grad():
            z = _start(model, k, generator, size)
            pred = forward(model.decode(z)).reshape(k, -1)
            return pred + sigma * _randn(tuple(pred.shape), generator, pred.device, pred.dtype)

    return sample


def fit_inference(
    model: Any,
    forward: Forward,
    data: Tensor | Sampler,
    *,
    steps: int = 2000,
    lr: float = 1e-2,
    sigma: float | None = None,
    prior_weight: float = 1.0,
    critic_weight: float = 0.0,
    draws: int = 16,
    batch_size: int = 64,
    hidden: Sequence[int] = (128, 128),
    tol: float | None = None,
    accept: float = 0.95,
    generator: torch.Generator | None = None,
    size: Size = None,
    progress: bool = False,
) -> AmortisedPosterior:
    """Train an inference network q_φ(z | d) = N(μ_φ(d), diag σ_φ(d)²) for a latent model and forward
    operator F.

    Minimises L(φ) = mean over data sets d of E_{z ~ q(·|d)} [U(z; d) + log q(z | d)], the negative
    ELBO up to a constant (U as in `condition_operator`), estimated with `draws` (even)
    reparameterised z = μ + σ⊙ε per data set in antithetic pairs, log q's gradient taken through z
    only (see the module docstring), with Adam (β = 0.9, 0.99) at `lr` cosine-annealed to 0 over
    `steps`. `hidden` sets the MLP's widths (() for an affine map). `data`: one data set (F's
    output shape or m values), a batch (K, m) — each step takes the next `batch_size` of a random
    permutation, cycling — or a sampler (k, generator) → (k, m) called for `batch_size` fresh data sets
    per step (e.g. `prior_predictive`). σ and tol default as in `condition_points`, from the
    data values (for a sampler, from 256 draws). The network's weights are initialised from `generator`
    too, so a seeded fit is repeatable. Returns an `AmortisedPosterior`; its `history` is the
    estimate of L at each step (log q without its constant −(L/2)·log 2π)."""
    _check_model(model, critic_weight)
    _check_settings(1, steps, lr, prior_weight, critic_weight, accept, tol, sigma)
    if draws < 2 or draws % 2 or batch_size < 1:
        raise GenzooError(
            f"draws must be even and ≥ 2 (antithetic pairs) and batch_size ≥ 1, got {draws} and {batch_size}"
        )
    device, dtype = _device(model), _dtype(model)
    latent = _latent_shape(model, size)
    with _frozen_eval(model):
        with torch.no_grad():
            out = forward(model.decode(torch.zeros((1, *latent), device=device, dtype=dtype)))
        m = out.numel()
        sampler = data if callable(data) and not torch.is_tensor(data) else None
        if sampler is not None:
            pool = torch.as_tensor(sampler(256, generator)).to(device=device, dtype=dtype).reshape(256, -1)
            num_sets = None
        else:
            t = torch.as_tensor(data).to(device=device, dtype=dtype)
            if t.numel() == m:
                pool = t.reshape(1, m)
            elif t.dim() >= 2 and t.numel() == t.shape[0] * m:
                pool = t.reshape(t.shape[0], m)
            else:
                raise GenzooError(
                    f"data has shape {tuple(t.shape)}; the forward operator gives {m} values "
                    "per realisation: give m values or a (K, m) batch"
                )
            num_sets = len(pool)
        if pool.shape[1] != m:
            raise GenzooError(
                f"the data sampler gives {pool.shape[1]} values per data set; the forward operator gives {m}"
            )
        if not bool(torch.isfinite(pool).all()):
            raise GenzooError("data must be finite (no nan or inf)")
        sigma, tol = _defaults(pool, getattr(model, "info", None), sigma, tol)
        shift = pool.mean(0)
        spread = float((pool - shift).double().std(correction=0)) if len(pool) > 1 else 0.0
        scale = spread if spread > 0 else _scale(pool)
        with torch.random.fork_rng(devices=[]):
            if generator is not None:
                torch.manual_seed(
                    int(torch.randint(2**62, (1,), generator=generator, device=generator.device))
                )
            network = InferenceNetwork(m, latent, hidden, shift=shift, scale=scale).to(
                device=device, dtype=dtype
            )
        opt = torch.optim.Adam(network.parameters(), lr=lr, betas=(0.9, 0.99))
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1))
        order, at = torch.empty(0, dtype=torch.long), 0
        logged: list[Tensor] = []
        with Progress(steps, enabled=progress, desc="fit inference", unit="step", brief=True) as bar:
            for step in range(steps):
                if sampler is not None:
                    batch = (
                        torch.as_tensor(sampler(batch_size, generator))
                        .to(device=device, dtype=dtype)
                        .reshape(batch_size, m)
                    )
                elif len(pool) <= batch_size:
                    batch = pool
                else:
                    if at + batch_size > len(order):
                        dev = generator.device if generator is not None else torch.device("cpu")
                        order, at = torch.randperm(len(pool), generator=generator, device=dev).cpu(), 0
                    batch, at = pool[order[at : at + batch_size].to(device)], at + batch_size
                z, mu, log_std = network.rsample(batch, draws, generator, antithetic=True)
                u, _, _ = _energy(
                    model, forward, z, batch.repeat_interleave(draws, 0), sigma, prior_weight, critic_weight
                )
                # log q(z) with q's parameters held fixed: its expectation is −H(q), its gradient only the
                # path through z — the "sticking the landing" estimator, of zero variance where q = p(z | d)
                flat = z.reshape(len(batch), draws, -1)
                m0, s0 = mu.detach()[:, None], log_std.detach()[:, None]
                log_q = (-0.5 * ((flat - m0) / s0.exp()) ** 2 - s0).sum(2)  # + const, dropped
                loss = (u.reshape(len(batch), draws) + log_q).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                schedule.step()
                logged.append(loss.detach())
                bar.update()
                if progress and step % 50 == 0:
                    bar.set_postfix(loss=f"{logged[-1].item():.4g}")
    network.eval()
    history = torch.stack(logged).tolist() if logged else []
    single = pool[0] if num_sets == 1 else None
    return AmortisedPosterior(
        model,
        forward,
        network,
        single,
        sigma=sigma,
        tol=tol,
        accept=accept,
        size=size,
        history=history,
        num_sets=num_sets,
    )
