"""The classical geostatistical simulators as genzoo models: `cholesky`, `spectral`, `fft`, `spde`
(Gaussian fields) and `facies` (truncated Gaussian), trained, sampled, conditioned and scored
like every neural generator.

"Training" fits the model to the training fields once, in `prepare` (no optimisation loop):
the mean, then the covariance by weighted least squares on the fields' empirical variograms
along rows and columns (`genzoo.geostat.stats.fit_field`) — every parameter not given in
the config (`range`, `sill`, `nugget`; `nu` stays as given). `facies` takes the facies
proportions of the training images and the range of its latent Gaussian field from their
indicator covariance, inverted through the bivariate normal law (Owen's T function) into the
latent correlation ρ(h) and fitted by least squares.

Sampling draws white noise z and returns G(z) (see `genzoo.geostat.simulators`); the
Gaussian ones are latent models with decode(z) = G(z) — linear in z — and sample any grid size
(`sample(n, size=256)`) and honour point data exactly (`sample(n, points=...)`: kriging of the
residuals). `cholesky` and `fft` simulate the model's law exactly and so have its exact
likelihood (a dense Cholesky factor of the grid's covariance, up to 6,000 nodes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from genzoo.config import option
from genzoo.data.base import DataInfo, Dataset
from genzoo.errors import GenzooError
from genzoo.models.base import GenerativeModel, TourEntry
from genzoo.models.registry import register_model

COVS = ("matern", "exponential", "gaussian", "spherical", "cubic")
_PARAMS = ("range", "sill", "nugget", "angle", "ratio", "nu", "mean")
_PARAMS3 = ("dip", "roll", "ratio3")  # a 3-D model's (blocks (1, D, H, W)): a second buffer


@dataclass
class FieldConfig:
    """Options of the Gaussian field simulators (`--set model.KEY=VALUE`)."""

    cov: str = option("matern", choices=COVS, help="covariance model")
    range: float | None = option(
        None, low=1e-9, help="range a in cells (Matérn scale 1/κ); default: fitted to the training fields"
    )
    sill: float | None = option(None, low=0.0, help="variance of the structured part; default: fitted")
    nugget: float | None = option(0.0, low=0.0, help="nugget variance; give none to fit it")
    nu: float = option(1.5, low=1e-6, high=50.0, help="Matérn smoothness (fixed, not fitted)")
    angle: float = option(0.0, help="anisotropy: angle of the major axis from the column axis, degrees")
    ratio: float = option(1.0, low=1e-6, help="anisotropy: range across / range along the major axis")
    dip: float = option(0.0, help="3-D anisotropy: the second rotation, degrees (blocks only)")
    roll: float = option(0.0, help="3-D anisotropy: the third rotation, degrees (blocks only)")
    ratio3: float | None = option(
        None,
        low=1e-6,
        help="3-D anisotropy: the third (vertical) axis' range / range (blocks only); default: fitted to "
        "the layers' variogram",
    )
    anisotropic: bool = option(
        False, help="fit separate ranges along rows and columns (angle 0° or 90°), and layers in blocks"
    )
    mean: float | None = option(None, help="field mean; default: the training fields' mean")


@dataclass
class SpectralConfig(FieldConfig):
    modes: int = option(1000, low=1, high=1_000_000, help="K random cosines per realisation")
    amplitudes: str = option(
        "uniform", choices=("uniform", "gaussian"), help="random phases, or Gaussian amplitudes (RandMeth)"
    )


@dataclass
class SPDEConfig(FieldConfig):
    tol: float = option(
        1e-5, low=1e-12, high=0.5, help="Chebyshev: sup error of the polynomial, relative to f(0)"
    )


@dataclass
class FieldSampleOptions:
    """What a simulator's sample() takes beyond n and generator= on the command line."""

    size: int | None = option(
        None, low=1, help="side of the fields (default the training size)", missing="other size to draw"
    )


def grid_of(model: GenerativeModel, size: Any) -> tuple[int, ...]:
    """The grid of `size` for a model of fields or blocks: an int is a square (a cube for a model
    of blocks), a tuple the sides (H, W), or (D, H, W) for blocks."""
    from genzoo.geostat.simulators import grid_shape

    dims = len(model.info.shape) - 1
    sides = grid_shape((size,) * dims if isinstance(size, int) and not isinstance(size, bool) else size)
    if len(sides) != dims:
        kind = "(D, H, W) blocks" if dims == 3 else "(H, W) fields"
        raise GenzooError(f"size: model {model.name!r} simulates {kind}; got the sides {sides}")
    return sides


class Field(GenerativeModel):
    """A Gaussian field as a model: the covariance fitted to the training fields, and the
    simulator of `method` (from the table genzoo.geostat.simulators.SIMULATORS) built for it at
    each grid size, which draws the fields, and for the latent methods decodes x = G(z). A
    registered method only declares what differs: its `method`, `Config`, the config keys its
    simulator takes (`simulator_options`), the covariances it simulates, whether its likelihood
    is exact and whether it is a latent model."""

    method: ClassVar[str] = ""
    simulator_options: ClassVar[tuple[str, ...]] = ()  # config keys passed to the simulator
    covariances: ClassVar[tuple[str, ...] | None] = None  # the covariance models it simulates (None: all)
    Config = FieldConfig
    SampleOptions = FieldSampleOptions
    exact_points = True
    kinds = ("field",)
    trainable = False

    def __init__(self, config: FieldConfig, info: DataInfo) -> None:
        if self.covariances is not None and config.cov not in self.covariances:
            raise GenzooError(
                f"model.cov: {self.name} simulates the matern family (and exponential); got {config.cov}"
            )
        super().__init__(config, info)
        if info.shape[0] != 1:
            raise GenzooError(
                f"model {self.name!r} simulates one-channel fields; {info.name} has {info.shape[0]} channels"
            )
        self.register_buffer("params", torch.zeros(len(_PARAMS), dtype=torch.float64))
        self.blocks = len(info.shape) == 4  # 3-D fields (1, D, H, W)
        if self.blocks:
            self.register_buffer("params3", torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))
        elif config.dip or config.roll or config.ratio3 not in (None, 1):
            raise GenzooError(
                f"model.dip, model.roll and model.ratio3 are 3-D anisotropy; {info.name} holds 2-D fields"
            )
        self._sims: dict[tuple[int, ...], Any] = {}

    # --- the fitted covariance --------------------------------------------------------------
    def prepare(self, data: Dataset) -> None:
        from genzoo.geostat.covariance import make

        c = self.config
        x = data.x.double()
        mean = float(x.mean()) if c.mean is None else float(c.mean)
        free = [k for k in ("range", "sill", "nugget") if getattr(c, k) is None]
        if free or c.anisotropic or (self.blocks and c.ratio3 is None):
            fitted = self._fit(x - mean)
            cov = make(
                c.cov,
                range=c.range if c.range is not None and not c.anisotropic else fitted.range,
                sill=c.sill if c.sill is not None else fitted.sill,
                nugget=c.nugget if c.nugget is not None else fitted.nugget,
                angle=fitted.angle if c.anisotropic else c.angle,
                ratio=fitted.ratio if c.anisotropic else c.ratio,
                **self._geometry3(fitted),
                nu=c.nu if c.cov == "matern" else None,
            )
        else:
            cov = make(
                c.cov,
                range=c.range,
                sill=c.sill,
                nugget=c.nugget,
                angle=c.angle,
                ratio=c.ratio,
                **self._geometry3(None),
                nu=c.nu if c.cov == "matern" else None,
            )
        self.set_covariance(cov, mean)

    def _fit(self, x: Tensor) -> Any:
        """The covariance fitted to the centred training fields: for blocks, the layers', rows' and
        columns' variograms — three ranges with `anisotropic`, else one horizontal range and the
        vertical one (ratio3), or with ratio3 given, the horizontal range from rows and columns."""
        from genzoo.geostat.stats import fit_field, fit_variogram, grid_variogram

        c = self.config
        kw = {"model": c.cov, "nu": c.nu if c.cov == "matern" else None, "nugget": c.nugget is None}
        if not self.blocks:
            return fit_field(x, anisotropic=c.anisotropic, **kw)
        if c.anisotropic or c.ratio3 is None:
            return fit_field(x, anisotropic=True if c.anisotropic else "vertical", **kw)
        return fit_variogram([grid_variogram(x, None, "row"), grid_variogram(x, None, "col")], **kw)

    def _geometry3(self, fitted: Any) -> dict[str, float]:
        """The 3-D anisotropy for make(): none for 2-D fields; the config's, with the fitted vertical
        ratio where the config leaves it to the fit (ratio3 None, or anisotropic)."""
        if not self.blocks:
            return {}
        c = self.config
        fit3 = fitted is not None and (c.anisotropic or c.ratio3 is None)
        return {"dip": c.dip, "roll": c.roll, "ratio3": fitted.ratio3 if fit3 else (c.ratio3 or 1.0)}

    def set_covariance(self, cov: Any, mean: float = 0.0) -> None:
        nu = float(getattr(cov, "nu", 0.0))
        vals = [cov.range, cov.sill, cov.nugget, cov.angle, cov.ratio, nu, mean]
        self.params.copy_(torch.tensor(vals, dtype=torch.float64))
        if self.blocks:
            self.params3.copy_(torch.tensor([cov.dip, cov.roll, cov.ratio3], dtype=torch.float64))
        elif cov.three_d:
            raise GenzooError(f"model {self.name!r} simulates 2-D fields; {cov.describe()} is a 3-D model")
        self._sims.clear()

    @property
    def cov(self) -> Any:
        from genzoo.geostat.covariance import make

        p = dict(zip(_PARAMS, self.params.tolist()))
        if p["range"] <= 0:
            raise GenzooError(
                f"model {self.name!r} has no covariance yet: train it (genzoo train {self.name} --data grf)"
            )
        nu = p["nu"] if self.config.cov == "matern" else None
        geometry = dict(zip(_PARAMS3, self.params3.tolist())) if self.blocks else {}
        return make(
            self.config.cov,
            range=p["range"],
            sill=p["sill"],
            nugget=p["nugget"],
            angle=p["angle"],
            ratio=p["ratio"],
            **geometry,
            nu=nu,
        )

    @property
    def mean(self) -> float:
        return float(self.params[6])

    def load_weights(self, state: dict[str, Tensor]) -> None:
        super().load_weights(state)
        self._sims.clear()

    def options(self) -> dict[str, Any]:
        """The simulator's options from the config (spectral: modes, amplitudes; spde: tol)."""
        return {key: getattr(self.config, key) for key in self.simulator_options}

    def simulator(self, size: Any = None) -> Any:
        from genzoo.geostat.simulators import simulator

        shape = tuple(self.info.shape[1:]) if size is None else self.grid(size)
        if shape not in self._sims:
            self._sims[shape] = simulator(self.method, self.cov, shape, **self.options())
        return self._sims[shape]

    def grid(self, size: Any) -> tuple[int, ...]:
        return grid_of(self, size)

    # --- the user's API ---------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        size: Any = None,
        points: Any = None,
        kriging: str = "simple",
        neighbours: int | None = None,
        **condition: Any,
    ) -> Tensor:
        """n fields (n, 1, H, W): of the training size or any `size` (an int or (H, W)); with
        `points` (rows, cols, values) they honour the data exactly (kriging of the residuals).
        A model of 3-D blocks draws (n, 1, D, H, W) (`size` an int for a cube, or (D, H, W)) and
        takes points (layers, rows, cols, values)."""
        if any(v is not None for v in condition.values()):
            raise GenzooError(
                f"model {self.name!r} is unconditional; cannot condition on {', '.join(sorted(condition))}"
            )
        x = self.simulator(size).sample(n, generator=generator, mean=self.mean, device=self.params.device)
        if points is None:
            return x
        from genzoo.geostat.kriging import condition as krige_condition

        if kriging not in ("simple", "ordinary"):
            raise GenzooError(f"kriging must be simple or ordinary, got {kriging!r}")
        mean = self.mean if kriging == "simple" else None
        return krige_condition(x, points, self.cov, mean=mean, neighbours=neighbours)

    def log_prob(self, x: Tensor) -> Tensor:
        """Methods that simulate the model's law exactly (likelihood "exact": cholesky, fft):
        log N(x; μ, Σ) per field by the grid's Cholesky factor, kept in float64 — a 64×64 field's
        log-density is about −5,000 nats, where float32 keeps only ~5e-4."""
        if self.likelihood != "exact":
            return super().log_prob(x)
        from genzoo.geostat.covariance import grid_points
        from genzoo.geostat.simulators import Cholesky

        shape = tuple(x.shape[2:])
        key = ("chol",) + shape
        if key not in self._sims:
            self._sims[key] = Cholesky(self.cov, grid_points(shape))
        return self._sims[key].log_prob(x.reshape(len(x), -1).to(self.params.device), self.mean)

    # --- the latent methods: x = G(z), linear in z ---------------------------------------------
    def latent_shape(self) -> tuple[int, ...]:
        return self.simulator().latent_shape() if self.latent else super().latent_shape()

    def decode(self, z: Tensor) -> Tensor:
        return self.simulator().decode(z, self.mean) if self.latent else super().decode(z)


_TOUR = (TourEntry("grf", quick_steps=0, steps=0),)  # fitted in seconds; evaluation is most of the time
_TOUR3 = (*_TOUR, TourEntry("grf3d", quick_steps=0, steps=0))  # and on 3-D blocks
_TOUR_FULL = (TourEntry("grf", quick_steps=0, steps=0, quick=False),)  # the quick tour keeps fft and spde


@register_model("cholesky")
class CholeskyField(Field):
    """x = μ + Lz, Σ = LLᵀ: exact on any point set, up to 6,000 nodes."""

    method = "cholesky"
    likelihood = "exact"
    latent = True
    summary = (
        "Gaussian field by the Cholesky factor of its covariance matrix, x = μ + Lz (exact; ≤ 6,000 nodes)"
    )
    tour = _TOUR_FULL


@register_model("fft")
class FFTField(Field):
    """Circulant embedding: exact stationary simulation on a grid by the FFT."""

    method = "fft"
    likelihood = "exact"
    latent = True
    summary = "Gaussian field by FFT circulant embedding (exact on grids, O(N log N))"
    tour = _TOUR3


@register_model("spectral")
class SpectralField(Field):
    """Shinozuka's sum of K random cosines; approximately Gaussian."""

    method = "spectral"
    Config = SpectralConfig
    simulator_options = ("modes", "amplitudes")
    summary = "Gaussian field as a sum of K random cosines (Shinozuka; approximate, any size)"
    tour = _TOUR_FULL


@register_model("spde")
class SPDEField(Field):
    """(κ² − Δ)^{α/2} x = W by a Chebyshev polynomial of the stencil: a deep linear conv net."""

    method = "spde"
    Config = SPDEConfig
    simulator_options = ("tol",)
    covariances = ("matern", "exponential")
    latent = True
    summary = (
        "Matérn field solving the SPDE by a Chebyshev polynomial of a 3×3 stencil (a deep linear conv net)"
    )
    tour = _TOUR3


# --- facies --------------------------------------------------------------------------------------
@dataclass
class FaciesConfig:
    cov: str = option("matern", choices=COVS, help="covariance of the latent Gaussian field")
    nu: float = option(1.5, low=1e-6, high=50.0, help="Matérn smoothness of the latent field")
    range: float | None = option(
        None, low=1e-9, help="range of the latent field along its major axis; default: fitted"
    )
    ratio: float | None = option(
        None, low=1e-6, help="anisotropy ratio; default: fitted (major axis along rows or columns)"
    )
    angle: float | None = option(None, help="angle of the major axis; default: fitted (0 or 90)")
    ratio3: float | None = option(
        None, low=1e-6, help="3-D blocks: vertical range / range of the latent field; default: fitted"
    )
    proportions: tuple[float, ...] | None = option(
        None, low=0.0, high=1.0, help="facies shares; default: the training images'"
    )
    max_lag: int = option(12, low=2, help="lags used to fit the latent range")


@register_model("facies")
class FaciesModel(GenerativeModel):
    """Truncated Gaussian facies: thresholds of one latent Gaussian field (FFT-simulated)."""

    Config = FaciesConfig
    SampleOptions = FieldSampleOptions
    kinds = ("field",)
    trainable = False
    latent = False
    summary = (
        "truncated-Gaussian facies: a latent Gaussian field cut at the thresholds of the facies proportions"
    )
    tour = (TourEntry("facies", quick_steps=0, steps=0), TourEntry("facies3d", quick_steps=0, steps=0))

    def __init__(self, config: FaciesConfig, info: DataInfo) -> None:
        super().__init__(config, info)
        if info.shape[0] != 1:
            raise GenzooError(
                f"model 'facies' simulates one-channel images; {info.name} has {info.shape[0]} channels"
            )
        k = int(info.value_range[1] - info.value_range[0]) + 1 if math.isfinite(info.value_range[1]) else 2
        self.register_buffer("proportions", torch.zeros(max(2, k), dtype=torch.float64))
        self.register_buffer("latent_params", torch.zeros(4, dtype=torch.float64))  # range, ratio, angle, nu
        self.blocks = len(info.shape) == 4  # 3-D blocks (1, D, H, W): the latent field's vertical ratio too
        if self.blocks:
            self.register_buffer("latent_ratio3", torch.ones(1, dtype=torch.float64))
        elif config.ratio3 is not None:
            raise GenzooError(
                f"model.ratio3 is the vertical anisotropy of 3-D blocks; {info.name} holds 2-D images"
            )
        self._sims: dict[Any, Any] = {}

    def prepare(self, data: Dataset) -> None:
        from genzoo.geostat.facies import check_proportions

        x = data.x
        codes = torch.round(x)
        if not bool((codes == x).all()) or float(x.min()) < 0:
            raise GenzooError("model 'facies' needs facies codes 0, 1, …, K−1 as values (e.g. --data facies)")
        k = len(self.proportions)
        counts = torch.bincount(codes.long().reshape(-1), minlength=k).double()
        if len(counts) > k:
            raise GenzooError(
                f"model 'facies': the data hold {len(counts)} facies, the model was built for {k}"
            )
        c = self.config
        p = check_proportions(c.proportions) if c.proportions is not None else counts / counts.sum()
        if len(p) != k or bool((p <= 0).any()):
            raise GenzooError(
                f"model 'facies': need {k} positive proportions, got {[round(v, 4) for v in p.tolist()]}"
            )
        self.proportions.copy_(p)
        rng, ratio, angle = c.range, c.ratio, c.angle
        ratio3 = c.ratio3 if self.blocks else 1.0
        if rng is None or ratio is None or angle is None or ratio3 is None:
            fit = fit_latent_range(codes, p, c.cov, c.nu, c.max_lag)
            rng = fit["range"] if rng is None else rng
            ratio = fit["ratio"] if ratio is None else ratio
            angle = fit["angle"] if angle is None else angle
            ratio3 = fit.get("ratio3", 1.0) if ratio3 is None else ratio3
        self.latent_params.copy_(torch.tensor([rng, ratio, angle, c.nu], dtype=torch.float64))
        if self.blocks:
            self.latent_ratio3.fill_(ratio3)
        self._sims.clear()

    @property
    def latent_cov(self) -> Any:
        from genzoo.geostat.covariance import make

        rng, ratio, angle, nu = self.latent_params.tolist()
        if rng <= 0:
            raise GenzooError(
                "model 'facies' has not been fitted: train it (genzoo train facies --data facies)"
            )
        return make(
            self.config.cov,
            range=rng,
            ratio=ratio,
            angle=angle,
            **({"ratio3": float(self.latent_ratio3)} if self.blocks else {}),
            nu=nu if self.config.cov == "matern" else None,
        )

    def load_weights(self, state: dict[str, Tensor]) -> None:
        super().load_weights(state)
        self._sims.clear()

    @torch.no_grad()
    def sample(
        self, n: int, *, generator: torch.Generator | None = None, size: Any = None, **condition: Any
    ) -> Tensor:
        from genzoo.geostat.facies import truncate
        from genzoo.geostat.simulators import FFTEmbedding

        if any(v is not None for v in condition.values()):
            raise GenzooError(
                f"model 'facies' is unconditional; cannot condition on {', '.join(sorted(condition))}"
            )
        shape = tuple(self.info.shape[1:]) if size is None else grid_of(self, size)
        if shape not in self._sims:
            self._sims[shape] = FFTEmbedding(self.latent_cov, shape)
        y = self._sims[shape].sample(n, generator=generator, device=self.proportions.device)
        return truncate(y, self.proportions.cpu()) + self.info.value_range[0]


def fit_latent_range(codes: Tensor, p: Tensor, cov: str, nu: float, max_lag: int) -> dict[str, float]:
    """The latent Gaussian field's range (and axis anisotropy) of truncated-Gaussian images: the
    facies-0 indicator covariance along rows and columns, C_I(h) = p₀(1 − p₀) − γ_I(h), mapped to
    the latent correlation ρ(h) (see `genzoo.geostat.facies.gaussian_correlation_of_indicator`),
    then ρ(h) = ρ_model(h / a) fitted by least squares in log a, per axis. For 3-D blocks
    (n, 1, D, H, W) also along layers: the result then has `ratio3`, the vertical range / range."""
    from scipy.optimize import minimize_scalar

    from genzoo.geostat.covariance import make
    from genzoo.geostat.facies import gaussian_correlation_of_indicator, thresholds

    ind = (codes == 0).double()
    p0 = float(p[0])
    t0 = float(thresholds(torch.stack([p[0], 1 - p[0]]))[0])
    blocks = codes.dim() == 5
    sides = codes.shape[2:]
    unit = make(cov, range=1.0, nu=nu if cov == "matern" else None)

    def axis_range(axis: int) -> float:
        lags = torch.arange(1, max(2, min(max_lag, ind.shape[axis] // 2)) + 1)
        gam = torch.stack(
            [
                0.5
                * (
                    (
                        ind.narrow(axis, int(k), ind.shape[axis] - int(k))
                        - ind.narrow(axis, 0, ind.shape[axis] - int(k))
                    )
                    ** 2
                ).mean()
                for k in lags
            ]
        )
        rho = gaussian_correlation_of_indicator(t0, (p0 * (1 - p0) - gam).clamp_min(0))

        def loss(log_a: float, rho=rho) -> float:
            model = unit.correlation(lags.double() / math.exp(log_a))
            return float(((model - rho) ** 2).sum())

        return math.exp(
            minimize_scalar(loss, bounds=(math.log(0.05), math.log(10 * max(sides))), method="bounded").x
        )

    if not blocks:  # the 2-D lags as before: min(H, W) // 2 along both axes
        h, w = sides
        max_lag = min(max_lag, min(h, w) // 2)
    along_rows, along_cols = axis_range(-2), axis_range(-1)
    if along_rows > along_cols:
        out = {"range": along_rows, "ratio": along_cols / along_rows, "angle": 90.0}
    else:
        out = {"range": along_cols, "ratio": along_rows / along_cols, "angle": 0.0}
    if blocks:
        out["ratio3"] = axis_range(-3) / out["range"]
    return out
