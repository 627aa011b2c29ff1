"""A density fitted to an autoencoder's training codes, so that the autoencoder can sample.

An autoencoder by itself is not a generative model: nothing says which codes are likely, and a
decoder fed codes from the wrong region produces garbage. Fitting a density to the codes of the
training set and decoding its draws — "ex-post density estimation" (Ghosh et al. 2020, "From
variational to deterministic autoencoders", ICLR) — makes it one. How well depends on the density:
on mnist a single Gaussian, even with a full covariance, puts most of its mass between the clusters
of digit codes (FD 744 in LeNet features); a mixture or a kernel density follows the clusters.

Kinds:

    gaussian  N(μ, Σ): the sample mean and covariance
    gmm       Σ_k π_k N(μ_k, Σ_k), K = `components`, by EM (scikit-learn's GaussianMixture)
    kde       (1/n) Σ_i N(c_i, h²Σ): a Gaussian kernel shaped like the codes' covariance
              (Silverman 1986, §4.2.1: KDE on sphered data), h by held-out likelihood
    auto      the candidate with the highest held-out likelihood: gaussian, gmm with K in
              {2, 5, 10, 20, 30, ...} up to `components` (stopping at the first K that scores
              below a smaller one), kde with h on a grid

Held-out likelihood: the codes are split once (a fixed seed-0 permutation) into 80 % to fit and
20 % to score; the winner is refitted on all the codes. A density that copies the training codes
(a small h, many components) scores badly on held-out codes, so the choice does not memorise.
Mixtures are fitted to the codes centred and divided by their mean standard deviation (so that
scikit-learn's absolute covariance ridge means the same at any scale), kernel densities to the
sphered codes; every held-out score is in nats per code in the codes' own units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from genzoo.errors import GenzooError

KINDS = ("auto", "gaussian", "gmm", "kde")
GMM_SIZES = (2, 5, 10, 20, 30, 40, 50, 100)  # the mixture sizes `auto` tries, up to `components`
BANDWIDTHS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)  # h in units of the codes' covariance
CODES_HELP = (
    "density fitted to the training codes, for sampling: auto = the one of gaussian, gmm (2 to "
    "gmm_components components) and kde with the highest likelihood of held-out codes"
)
HELD_OUT = 0.2  # share of the codes that scores the candidates
RIDGE = 1e-6  # added to the variances of sphered codes (scikit-learn's reg_covar)
EM_TOL = 1e-2  # EM stops when the mean log-likelihood gains less (scikit-learn's 1e-3 took 1.4-4× the
# iterations on mnist codes and moved the held-out scores by at most 0.1 nats, never the choice)


class CodeDistribution(nn.Module):
    """p(c) over codes c ∈ R^d, fitted by `fit`; every parameter is a buffer, so it is
    saved with the model's weights. The buffers have fixed sizes (from `components` and
    `points`), unused components weigh 0.

    A mixture Σ_k π_k N(μ_k, L_k L_kᵀ) (`weights`, `means`, `chol`) holds the gaussian and gmm
    fits; a kernel density (1/n) Σ_i N(c_i, h² L Lᵀ) (`kde_weights`, `kde_points`, `kde_chol`
    = hL) the kde fit; `use_kde` says which one samples."""

    def __init__(self, code_dim: int, kind: str = "auto", components: int = 30, points: int = 4000) -> None:
        super().__init__()
        if kind not in KINDS:
            raise GenzooError(f"code distribution must be one of {', '.join(KINDS)}, got {kind!r}")
        k = {"gaussian": 1, "kde": 1}.get(kind, components)
        m = points if kind in ("kde", "auto") else 0
        self.kind, self.components, self.points = kind, components, points
        self.register_buffer("weights", torch.full((k,), 1.0 / k))  # (K,)
        self.register_buffer("means", torch.zeros(k, code_dim))  # (K, d)
        self.register_buffer("chol", torch.eye(code_dim).repeat(k, 1, 1))  # (K, d, d)
        self.register_buffer("kde_weights", torch.zeros(m))  # (M,)
        self.register_buffer("kde_points", torch.zeros(m, code_dim))  # (M, d)
        self.register_buffer("kde_chol", torch.eye(code_dim))  # (d, d): h·L
        self.register_buffer("use_kde", torch.zeros((), dtype=torch.bool))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))
        self.choice: dict[str, object] = {}  # what the last fit chose, and the held-out scores

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        """Runs saved before the kernel density existed (kinds gaussian and gmm only) hold no kde_*
        buffers: they load with this module's own (empty, unused) ones."""
        for name in ("kde_weights", "kde_points", "kde_chol", "use_kde"):
            state_dict.setdefault(prefix + name, getattr(self, name))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # --- fitting ------------------------------------------------------------------------------
    @torch.no_grad()
    def fit(self, codes: Tensor, *, seed: int = 0, select: bool = True) -> CodeDistribution:
        """Maximum-likelihood fit to `codes` (N, d); for kde and auto, the bandwidth and the
        candidate chosen by held-out likelihood. `select=False` keeps the last choice (the
        candidate, K or h) and only refits it — the cheap refit between checkpoints (for auto, a
        Gaussian where nothing was chosen yet)."""
        c = codes.detach().double().cpu().numpy()
        n, d = c.shape
        need = {"gaussian": 2, "gmm": self.components, "kde": 5, "auto": 5}[self.kind]
        if n < need:
            raise GenzooError(f"fitting the code distribution needs at least {need} codes, got {n}")
        if self.kind in ("kde", "auto") and n > self.points:
            raise GenzooError(
                f"the {self.kind} code distribution holds at most {self.points} codes (model.fit_examples), "
                f"got {n}"
            )
        mu, L = _sphering(c)
        frame = _Frame(mu, L, float(np.sqrt(np.mean(np.diag(L @ L.T)))))
        if select or not self.choice:
            cheap = not select and self.kind == "auto"  # before any choice: a Gaussian, at no cost
            choice = {"kind": "gaussian", "k": 1} if cheap else self._choose(c, frame, seed)
        else:
            choice = dict(self.choice)
        if choice["kind"] == "kde":
            self._set_kde(c, frame, float(choice["h"]))
        else:
            self._set_mixture(*_mixture(frame.scaled(c), int(choice["k"]), seed), frame)
        self.choice = choice
        self.fitted.fill_(True)
        return self

    def _choose(self, c: np.ndarray, frame: _Frame, seed: int) -> dict[str, object]:
        """The candidate to fit: fixed by the kind, or (auto, and kde's bandwidth) the one with the
        highest mean log-likelihood of held-out codes (in nats per code, in the codes' own units)."""
        if self.kind == "gaussian":
            return {"kind": "gaussian", "k": 1}
        if self.kind == "gmm":
            return {"kind": "gmm", "k": self.components}
        order = np.random.default_rng(seed).permutation(len(c))
        cut = len(c) - max(1, int(round(HELD_OUT * len(c))))
        fit, held = c[order[:cut]], c[order[cut:]]
        w_fit, w_held = frame.sphered(fit), frame.sphered(held)
        scores = {f"kde h={h:g}": _kde_loglik(w_fit, w_held, h) - frame.log_det_sphering for h in BANDWIDTHS}
        if self.kind == "auto":
            u_fit, u_held = frame.scaled(fit), frame.scaled(held)
            best_mixture = -math.inf
            for k in (1, *(s for s in GMM_SIZES if s <= min(self.components, len(fit) // 2))):
                name = "gaussian" if k == 1 else f"gmm k={k}"
                scores[name] = _mixture_loglik(*_mixture(u_fit, k, seed), u_held) - frame.log_det_scaling
                if scores[name] < best_mixture:
                    break  # past the best size: larger mixtures only overfit more (and cost more)
                best_mixture = scores[name]
        best = max(scores, key=scores.__getitem__)
        kind, _, value = best.partition(" ")
        choice: dict[str, object] = {"kind": kind, "held_out_loglik": scores}
        if kind == "kde":
            choice["h"] = float(value[2:])
        else:
            choice["k"] = int(value[2:]) if value else 1
        return choice

    def _set_mixture(self, weights: np.ndarray, means: np.ndarray, covs: np.ndarray, frame: _Frame) -> None:
        """Store a mixture of scaled codes u = (c − μ)/s mapped back: μ + s m_k, s² S_k; unused slots
        weigh 0."""
        k, d = len(weights), len(frame.mu)
        if k > len(self.weights):
            raise GenzooError(f"the code distribution holds at most {len(self.weights)} components, got {k}")
        chol = frame.scale * np.linalg.cholesky(covs)
        pad = len(self.weights) - k
        self.weights.copy_(torch.as_tensor(np.concatenate([weights, np.zeros(pad)])))
        self.means.copy_(
            torch.as_tensor(np.concatenate([frame.mu + frame.scale * means, np.zeros((pad, d))]))
        )
        self.chol.copy_(torch.as_tensor(np.concatenate([chol, np.broadcast_to(np.eye(d), (pad, d, d))])))
        self.kde_weights.zero_()  # the unused kind's buffers are cleared, so that the state depends on
        self.kde_points.zero_()  # the last fit alone (a resumed run saves what a straight one does)
        self.kde_chol.copy_(torch.eye(d))
        self.use_kde.fill_(False)

    def _set_kde(self, c: np.ndarray, frame: _Frame, h: float) -> None:
        n = len(c)
        self.kde_points.zero_()
        self.kde_points[:n] = torch.as_tensor(c)
        self.kde_weights.zero_()
        self.kde_weights[:n] = 1.0 / n
        self.kde_chol.copy_(torch.as_tensor(h * frame.L))
        self.weights.zero_()
        self.means.zero_()
        self.chol.copy_(torch.eye(self.chol.shape[-1]).expand_as(self.chol))
        self.use_kde.fill_(True)

    # --- using it -----------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """n codes (n, d): a component (or a code, for kde) i ~ π, then its mean + L_i ε with
        ε ~ N(0, I) — all from `generator`."""
        if not bool(self.fitted):
            raise GenzooError("the autoencoder's code distribution is not fitted yet: train the model first")
        kde = bool(self.use_kde)
        weights, means = (self.kde_weights, self.kde_points) if kde else (self.weights, self.means)
        dev = generator.device if generator is not None else means.device
        comp = torch.multinomial(weights.to(dev), n, replacement=True, generator=generator)  # (n,)
        eps = torch.randn(n, means.shape[1], generator=generator, device=dev, dtype=means.dtype)
        comp, eps = comp.to(means.device), eps.to(means.device)
        if kde:
            return means[comp] + eps @ self.kde_chol.T
        return means[comp] + torch.einsum("nij,nj->ni", self.chol[comp], eps)

    def log_prob(self, codes: Tensor) -> Tensor:
        """log p(c) per code (N,) — for anomaly scores in code space."""
        d = self.means.shape[1]
        if bool(self.use_kde):
            ws = torch.linalg.solve_triangular(
                self.kde_chol, codes.T.to(self.kde_chol), upper=False
            ).T  # (N, d)
            wp = torch.linalg.solve_triangular(self.kde_chol, self.kde_points.T, upper=False).T  # (M, d)
            sq = torch.cdist(ws, wp).pow(2)  # (N, M)
            logdet = torch.log(torch.diagonal(self.kde_chol)).sum()
            return (
                torch.logsumexp(torch.log(self.kde_weights) - 0.5 * sq, dim=1)
                - logdet
                - 0.5 * d * math.log(2 * math.pi)
            )
        diff = codes[:, None, :] - self.means[None]  # (N, K, d)
        sol = torch.linalg.solve_triangular(self.chol[None], diff.unsqueeze(-1), upper=False).squeeze(-1)
        logdet = torch.log(torch.diagonal(self.chol, dim1=-2, dim2=-1)).sum(-1)  # (K,)
        comp = -0.5 * (sol**2).sum(-1) - logdet - 0.5 * d * math.log(2 * math.pi)
        return torch.logsumexp(comp + torch.log(self.weights), dim=-1)

    def describe(self) -> str:
        """What was fitted, in words: "gmm, 20 components", "kde, h = 0.4", "gaussian"."""
        if not bool(self.fitted):
            return "not fitted"
        if bool(self.use_kde):
            scale = float(torch.linalg.matrix_norm(self.kde_chol, ord=2))
            return f"kde on {int((self.kde_weights > 0).sum())} codes (kernel scale {scale:.3g})"
        k = int((self.weights > 0).sum())
        return "gaussian (full covariance)" if k == 1 else f"gmm, {k} full-covariance components"

    def extra_repr(self) -> str:
        """`print(model.code_distribution)` says what was fitted (`describe`)."""
        return self.describe()


def fit_subset(x: Tensor, n: int) -> Tensor:
    """The examples a model's code distribution is fitted to: the first `n` of a seed-0 permutation
    of `x` (N, ...) — a fixed subset, so that refits between checkpoints use the same examples and
    draw nothing from the global RNG."""
    return x[torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:n]]


# --- the fits ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Frame:
    """The codes' mean μ, the Cholesky factor L of their covariance, and their mean standard
    deviation s: mixtures are fitted to u = (c − μ)/s (a similarity, so EM and its k-means start are
    those of the raw codes), kernel densities to sphered w = L⁻¹(c − μ)."""

    mu: np.ndarray
    L: np.ndarray
    scale: float

    def scaled(self, c: np.ndarray) -> np.ndarray:
        return (c - self.mu) / self.scale

    def sphered(self, c: np.ndarray) -> np.ndarray:
        return np.linalg.solve(self.L, (c - self.mu).T).T

    @property
    def log_det_scaling(self) -> float:  # log |dc/du|
        return len(self.mu) * math.log(self.scale)

    @property
    def log_det_sphering(self) -> float:  # log |dc/dw|
        return float(np.log(np.diag(self.L)).sum())


def _sphering(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The codes' mean μ and the Cholesky factor L of their covariance Σ = LLᵀ (with a small ridge)."""
    mu = c.mean(0)
    cov = np.cov(c.T, ddof=1).reshape(c.shape[1], c.shape[1])
    cov += RIDGE * max(float(np.trace(cov)) / len(cov), 1e-12) * np.eye(len(cov))
    return mu, np.linalg.cholesky(cov)


def _mixture(w: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights (K,), means (K, d), covariances (K, d, d)) of a K-component full-covariance mixture
    fitted by EM (k-means initialisation, fixed seed); K = 1 is the sample mean and covariance.
    Each covariance carries the ridge RIDGE·I (scikit-learn's reg_covar), so it is positive definite."""
    d = w.shape[1]
    if k == 1:
        return (
            np.ones(1),
            w.mean(0, keepdims=True),
            (np.cov(w.T, ddof=1).reshape(d, d) + RIDGE * np.eye(d))[None],
        )
    from sklearn.mixture import GaussianMixture

    gm = GaussianMixture(k, covariance_type="full", random_state=seed, reg_covar=RIDGE, tol=EM_TOL).fit(w)
    return gm.weights_, gm.means_, gm.covariances_


def _mixture_loglik(weights: np.ndarray, means: np.ndarray, covs: np.ndarray, x: np.ndarray) -> float:
    """Mean log-likelihood of `x` under a full-covariance mixture."""
    d = x.shape[1]
    chol = np.linalg.cholesky(covs)  # (K, d, d)
    diff = x[None] - means[:, None]  # (K, N, d)
    sol = np.linalg.solve(chol, diff.transpose(0, 2, 1))  # (K, d, N)
    logdet = np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(1)  # (K,)
    comp = -0.5 * (sol**2).sum(1) - logdet[:, None] - 0.5 * d * math.log(2 * math.pi)  # (K, N)
    return float(np.mean(_logsumexp(comp + np.log(weights)[:, None], axis=0)))


def _kde_loglik(fit: np.ndarray, x: np.ndarray, h: float) -> float:
    """Mean log-likelihood of sphered codes `x` under (1/n) Σ_i N(fit_i, h² I)."""
    d = x.shape[1]
    sq = ((x**2).sum(1)[:, None] + (fit**2).sum(1)[None] - 2 * x @ fit.T).clip(min=0)  # (N, n)
    ll = (
        _logsumexp(-0.5 * sq / h**2, axis=1)
        - math.log(len(fit))
        - d * math.log(h)
        - 0.5 * d * math.log(2 * math.pi)
    )
    return float(ll.mean())


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    m = a.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))).squeeze(axis)
