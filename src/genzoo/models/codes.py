"""A distribution fitted to an autoencoder's training codes, so that the autoencoder can sample.

An autoencoder by itself is not a generative model: nothing says which codes are likely, and a
decoder fed codes from the wrong region produces garbage. Fitting a Gaussian (or a Gaussian
mixture) to the codes of the training set and decoding its draws is the simplest fix — and its
shortcomings (the codes' true distribution is neither) are exactly what the VAE's prior and KL
term address.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genzoo.errors import GenzooError

KINDS = ("gaussian", "gmm")


class CodeDistribution(nn.Module):
    """p(c) = N(μ, Σ) or Σ_k π_k N(μ_k, Σ_k) over codes c ∈ R^d; every parameter is a buffer,
    so it is saved with the model's weights. Σ is stored as its Cholesky factor."""

    def __init__(self, code_dim: int, kind: str = "gaussian", components: int = 10) -> None:
        super().__init__()
        if kind not in KINDS:
            raise GenzooError(f"code distribution must be one of {', '.join(KINDS)}, got {kind!r}")
        k = 1 if kind == "gaussian" else components
        self.kind = kind
        self.register_buffer("weights", torch.full((k,), 1.0 / k))  # (K,)
        self.register_buffer("means", torch.zeros(k, code_dim))  # (K, d)
        self.register_buffer("chol", torch.eye(code_dim).repeat(k, 1, 1))  # (K, d, d)
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def fit(self, codes: Tensor, *, seed: int = 0) -> CodeDistribution:
        """Maximum-likelihood fit to `codes` (N, d): the sample mean and covariance, or a
        full-covariance mixture by EM (scikit-learn's GaussianMixture, fixed `seed`). A small
        ridge (1e-6 × the mean variance) keeps Σ positive definite."""
        codes = codes.detach().double().cpu()
        n, d = codes.shape
        k = len(self.weights)
        if n < max(2, k):
            raise GenzooError(f"fitting the code distribution needs at least {max(2, k)} codes, got {n}")
        ridge = 1e-6 * float(codes.var(0).mean().clamp_min(1e-12)) * torch.eye(d, dtype=torch.float64)
        if self.kind == "gaussian":
            weights = torch.ones(1, dtype=torch.float64)
            means = codes.mean(0, keepdim=True)
            covs = torch.cov(codes.T, correction=1).reshape(1, d, d)
        else:
            from sklearn.mixture import GaussianMixture

            gm = GaussianMixture(k, covariance_type="full", random_state=seed, reg_covar=1e-6).fit(codes.numpy())
            weights = torch.as_tensor(gm.weights_)
            means = torch.as_tensor(gm.means_)
            covs = torch.as_tensor(gm.covariances_)
        chol = torch.linalg.cholesky(covs + ridge)
        dtype = self.means.dtype
        self.weights.copy_(weights.to(dtype))
        self.means.copy_(means.to(dtype))
        self.chol.copy_(chol.to(dtype))
        self.fitted.fill_(True)
        return self

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """n codes (n, d): a component k ~ π, then μ_k + L_k ε with ε ~ N(0, I) — all from `generator`."""
        if not bool(self.fitted):
            raise GenzooError("the autoencoder's code distribution is not fitted yet: train the model first")
        dev = generator.device if generator is not None else self.means.device
        comp = torch.multinomial(self.weights.to(dev), n, replacement=True, generator=generator)  # (n,)
        eps = torch.randn(n, self.means.shape[1], generator=generator, device=dev, dtype=self.means.dtype)
        comp, eps = comp.to(self.means.device), eps.to(self.means.device)
        return self.means[comp] + torch.einsum("nij,nj->ni", self.chol[comp], eps)

    def log_prob(self, codes: Tensor) -> Tensor:
        """log p(c) per code (N,) — for anomaly scores in code space."""
        d = self.means.shape[1]
        diff = codes[:, None, :] - self.means[None]  # (N, K, d)
        sol = torch.linalg.solve_triangular(self.chol[None], diff.unsqueeze(-1), upper=False).squeeze(-1)
        logdet = torch.log(torch.diagonal(self.chol, dim1=-2, dim2=-1)).sum(-1)  # (K,)
        comp = -0.5 * (sol**2).sum(-1) - logdet - 0.5 * d * torch.log(torch.tensor(2 * torch.pi))
        return torch.logsumexp(comp + torch.log(self.weights), dim=-1)
