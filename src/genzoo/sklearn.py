"""scikit-learn estimators over genzoo's models: `fit(X)`, `sample(n_samples, random_state)`,
`score_samples(X)` (log-likelihood per example, nats) and `score(X)` (their sum), with
`get_params` / `set_params` / `clone`, so that `GridSearchCV` and `cross_val_score` pick a KDE's
bandwidth, an RBM's size or a VAE's code by held-out likelihood.

    from sklearn.model_selection import GridSearchCV
    from genzoo.sklearn import KernelDensity
    search = GridSearchCV(KernelDensity(), {"bandwidth": [0.1, 0.2, 0.5]}).fit(X)

X is what scikit-learn takes — (n_samples, n_features) — or images (n, [C,] H, W) and fields
(n, H, W); samples come back in the shape X had. The estimators are thin: `model_` is the genzoo
model, trained by `genzoo.train` (no run directory, no progress bar), and everything it can do
(`model_.sample(..., generator=)`, a report) stays at hand.

| estimator | genzoo model | score_samples |
|---|---|---|
| KernelDensity | kde (Gaussian kernel: scikit-learn's KernelDensity at the same bandwidth) | exact |
| BernoulliRBM | rbm on binary vectors (CD-k / PCD) | AIS estimate |
| GaussianField | cholesky, fft, spectral or spde fitted to fields (n, H, W) | exact (cholesky, fft) |
| VAE | vae | IWAE estimate |
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from genzoo.data.base import DataInfo, Dataset
from genzoo.errors import GenzooError

__all__ = ["BernoulliRBM", "GaussianField", "KernelDensity", "VAE"]


def _seed(random_state: Any) -> int:
    """A seed for torch from scikit-learn's random_state (None, an int or a RandomState)."""
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return int(random_state)
    return int(check_random_state(random_state).randint(2**31 - 1))


class _GenzooEstimator(BaseEstimator):
    """What every estimator shares; subclasses name the family and map their parameters."""

    _family = ""

    # --- what a subclass says --------------------------------------------------------------
    def _model_params(self) -> dict[str, Any]:
        return {}

    def _train_params(self) -> dict[str, Any]:
        """The training options among the estimator's parameters (steps, lr, batch_size)."""
        return {k: getattr(self, k) for k in ("steps", "lr", "batch_size") if hasattr(self, k)}

    def _dataset(self, x: np.ndarray) -> Dataset:
        from genzoo.data.python import as_dataset

        return as_dataset(torch.from_numpy(np.ascontiguousarray(x)), name="sklearn", say=False)

    # --- scikit-learn's API ----------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> _GenzooEstimator:
        """Train the model on X (y is ignored: these are density estimators)."""
        from genzoo.models import create
        from genzoo.training.trainer import train

        x = np.asarray(X)
        if x.ndim < 2 or len(x) == 0:
            raise GenzooError(
                f"{type(self).__name__}.fit: X must be (n_samples, ...) with n ≥ 1, got {x.shape}"
            )
        data = self._dataset(x)
        seed = _seed(getattr(self, "random_state", 0))
        model = create(self._family, data, seed=seed, **self._model_params())
        run = train(
            model, data, progress=False, sample_grid=False, seed=seed, threads=None, **self._train_params()
        )
        self.model_ = run.model.eval()
        self.sample_shape_ = x.shape[1:]
        self.n_features_in_ = int(math.prod(x.shape[1:]))
        return self

    def _as_model_input(self, X: Any) -> torch.Tensor:
        check_is_fitted(self, "model_")
        x = np.asarray(X)
        if x.shape[1:] != self.sample_shape_ and int(math.prod(x.shape[1:])) != self.n_features_in_:
            raise GenzooError(
                f"{type(self).__name__}: X has examples of shape {x.shape[1:]}, "
                f"fitted on {self.sample_shape_}"
            )
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).reshape(
            len(x), *self.model_.info.shape
        )

    def score_samples(self, X: Any) -> np.ndarray:
        """log p(x) of each example, nats (n_samples,)."""
        x = self._as_model_input(X)
        with torch.no_grad():
            return self.model_.log_prob(x).double().cpu().numpy()

    def score(self, X: Any, y: Any = None) -> float:
        """The total log-likelihood of X (what GridSearchCV maximises), nats."""
        return float(self.score_samples(X).sum())

    def sample(self, n_samples: int = 1, random_state: Any = None) -> np.ndarray:
        """n_samples new examples, in the shape X had."""
        check_is_fitted(self, "model_")
        gen = torch.Generator().manual_seed(_seed(random_state))
        with torch.no_grad():
            x = self.model_.sample(int(n_samples), generator=gen)
        return x.detach().float().cpu().numpy().reshape(int(n_samples), *self.sample_shape_)


class KernelDensity(_GenzooEstimator):
    """genzoo's kde with a Gaussian kernel: scikit-learn's KernelDensity(kernel="gaussian") at the
    same numeric bandwidth, exact in any dimension; bandwidth may also be "scott", "silverman" or
    "cv" (genzoo's own K-fold search)."""

    _family = "kde"

    def __init__(self, bandwidth: float | str = "scott", cv_grid: int = 20, cv_folds: int = 5) -> None:
        self.bandwidth = bandwidth
        self.cv_grid = cv_grid
        self.cv_folds = cv_folds

    def _model_params(self) -> dict[str, Any]:
        return {"bandwidth": self.bandwidth, "cv_grid": self.cv_grid, "cv_folds": self.cv_folds}

    def _dataset(self, x: np.ndarray) -> Dataset:
        # every value a coordinate: a density of points in R^D, whatever their range
        flat = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).reshape(len(x), -1)
        return Dataset(flat, DataInfo("sklearn", "points", (flat.shape[1],), (-math.inf, math.inf)))


class BernoulliRBM(_GenzooEstimator):
    """genzoo's rbm on binary vectors X (n_samples, n_features) of 0s and 1s: CD-k, or persistent
    CD; score_samples is the AIS estimate of log p(x) (`ais_betas` intermediate distributions)."""

    _family = "rbm"

    def __init__(
        self,
        hidden: int = 64,
        k: int = 1,
        persistent: bool = False,
        lr: float = 0.05,
        steps: int = 1000,
        batch_size: int = 64,
        ais_betas: int = 2000,
        random_state: Any = 0,
    ) -> None:
        self.hidden = hidden
        self.k = k
        self.persistent = persistent
        self.lr = lr
        self.steps = steps
        self.batch_size = batch_size
        self.ais_betas = ais_betas
        self.random_state = random_state

    def _model_params(self) -> dict[str, Any]:
        return {
            "hidden": self.hidden,
            "k": self.k,
            "persistent": self.persistent,
            "ais_betas": self.ais_betas,
        }

    def _dataset(self, x: np.ndarray) -> Dataset:
        flat = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).reshape(len(x), 1, 1, -1)
        info = DataInfo("sklearn", "image", tuple(flat.shape[1:]), (0.0, 1.0), binarize="static")
        return Dataset(flat, info)


class GaussianField(_GenzooEstimator):
    """A Gaussian random field fitted to fields X (n, H, W): its covariance (`cov`, Matérn ν) fitted
    to their variograms, simulated by `method` (cholesky, fft, spectral, spde); score_samples is the
    exact Gaussian log-density for cholesky and fft."""

    def __init__(
        self, method: str = "fft", cov: str = "matern", nu: float = 1.5, anisotropic: bool = False
    ) -> None:
        self.method = method
        self.cov = cov
        self.nu = nu
        self.anisotropic = anisotropic

    @property
    def _family(self) -> str:  # type: ignore[override]
        if self.method not in ("cholesky", "fft", "spectral", "spde"):
            raise GenzooError(
                f"GaussianField: method must be cholesky, fft, spectral or spde, got {self.method!r}"
            )
        return self.method

    def _model_params(self) -> dict[str, Any]:
        return {"cov": self.cov, "nu": self.nu, "anisotropic": self.anisotropic}

    def _dataset(self, x: np.ndarray) -> Dataset:
        if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[1] != 1):
            raise GenzooError(f"GaussianField.fit: X must be fields (n, H, W), got {x.shape}")
        t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).reshape(len(x), 1, *x.shape[-2:])
        return Dataset(t, DataInfo("sklearn", "field", tuple(t.shape[1:]), (-math.inf, math.inf)))


class VAE(_GenzooEstimator):
    """genzoo's vae (MLP encoder and decoder); score_samples is the IWAE estimate of log p(x)."""

    _family = "vae"

    def __init__(
        self,
        latent_dim: int = 8,
        hidden: tuple[int, ...] = (256,),
        lr: float = 1e-3,
        steps: int = 1000,
        batch_size: int = 128,
        random_state: Any = 0,
    ) -> None:
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.lr = lr
        self.steps = steps
        self.batch_size = batch_size
        self.random_state = random_state

    def _model_params(self) -> dict[str, Any]:
        return {"arch": "mlp", "latent_dim": self.latent_dim, "hidden": tuple(self.hidden)}
