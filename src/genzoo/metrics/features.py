"""Feature spaces for the sample metrics (precision/recall, density/coverage, MMD/KID, Fréchet
distance, 1-NN accuracy, memorisation): real and generated examples are compared as vectors.

- ``"classifier"``: the 128 pre-activations of the penultimate (first dense) layer of a small
  LeNet that genzoo trains itself (`genzoo.metrics.train_features`) and ships for `mnist`
  and `digits` — the domain analogue of the Inception features of FID (Heusel et al., 2017).
  Taken before the ReLU, so no unit is stuck at zero and their covariance has full rank.
- ``"pca"``: the projection of the pixels onto the leading principal components of the *real*
  data; fit once (`FeatureExtractor.fit`), then apply the same projection to real and
  generated examples.
- ``"pixels"``: the examples flattened; for points data, the coordinates themselves.

Images are first mapped affinely from `info.value_range` to [0, 1] in every space, so a run on
images rescaled to [-1, 1] gets the same features, and the same numbers, as a run on [0, 1].
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from torch import Tensor, nn

from genzoo.data.base import DataInfo
from genzoo.errors import GenzooError, suggest

FEATURE_SPACES = ("classifier", "pca", "pixels")
WEIGHTS_DIR = Path(__file__).parent / "weights"
REGENERATE = "python -m genzoo.metrics.train_features --data {name}"

ArrayLike = Tensor | np.ndarray


# ---------------------------------------------------------------- the classifier


@dataclass(frozen=True)
class LeNetConfig:
    """A LeNet-5-style network on (1, size, size) images. Saved as JSON in the metadata of each
    weights file, so that a file rebuilds its own network.

    28×28 (mnist): 5×5 "same" conv (16) → pool → 5×5 "valid" conv (32) → pool: 28 → 14 → 10 → 5, so
    32·5·5 = 800 inputs to the dense layers. 8×8 (digits): 3×3 "same" convs (32, 64) keep enough
    resolution: 8 → 4 → 4 → 2, 64·2·2 = 256 inputs. Both give 128 features."""

    size: int
    kernel: int
    padding2: int  # the second conv's padding: 0 ("valid") or kernel // 2 ("same")
    channels: tuple[int, int] = (16, 32)
    features: int = 128
    num_classes: int = 10
    dropout: float = 0.3

    @property
    def flat(self) -> int:
        side = (self.size // 2 + 2 * self.padding2 - self.kernel + 1) // 2
        return self.channels[1] * side * side

    @classmethod
    def from_json(cls, text: str) -> LeNetConfig:
        d = json.loads(text)
        d["channels"] = tuple(d["channels"])
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(asdict(self))


# the shipped classifiers: the dataset each was trained on → its architecture
SHIPPED: dict[str, LeNetConfig] = {
    "mnist": LeNetConfig(size=28, kernel=5, padding2=0),
    "digits": LeNetConfig(size=8, kernel=3, padding2=1, channels=(32, 64)),
}


class LeNet(nn.Module):
    """conv → ReLU → max-pool → conv → ReLU → max-pool → dense (the features)
    → ReLU → dropout → dense (the logits)."""

    def __init__(self, config: LeNetConfig) -> None:
        super().__init__()
        self.config = config
        c1, c2 = config.channels
        k = config.kernel
        self.body = nn.Sequential(
            nn.Conv2d(1, c1, k, padding=k // 2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, k, padding=config.padding2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(config.flat, config.features),
        )
        self.head = nn.Sequential(
            nn.ReLU(), nn.Dropout(config.dropout), nn.Linear(config.features, config.num_classes)
        )

    @property
    def num_features(self) -> int:
        return self.config.features

    def features(self, x: Tensor) -> Tensor:
        """(B, 1, size, size) images in [0, 1] → (B, features) penultimate pre-activations."""
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        """(B, 1, size, size) → (B, num_classes) logits."""
        return self.head(self.body(x))


def weights_path(name: str) -> Path:
    return WEIGHTS_DIR / f"lenet-{name}.safetensors"


# data sets whose examples are another set's digits (mnist-sr's targets are mnist digits)
SAME_DIGITS = {"mnist-sr": "mnist"}


def shipped_classifier(info: DataInfo) -> str | None:
    """The name of the shipped classifier for data like `info`, or None."""
    name = SAME_DIGITS.get(info.name, info.name)
    cfg = SHIPPED.get(name)
    if cfg is None or info.kind != "image" or tuple(info.shape) != (1, cfg.size, cfg.size):
        return None
    return name


def _require_classifier(info: DataInfo) -> str:
    name = shipped_classifier(info)
    if name is None:
        shape = "×".join(str(s) for s in info.shape)
        raise GenzooError(
            f"no shipped classifier for {info.name} ({info.kind}, shape {shape}); "
            "use --features pixels or pca"
        )
    return name


def classifier_metadata(name: str) -> dict[str, str]:
    """The metadata stored with the shipped weights: dataset, accuracies, seed, date, config, …"""
    return dict(_metadata(name))


@functools.cache
def _metadata(name: str) -> dict[str, str]:
    path = weights_path(name)
    if not path.is_file():
        raise GenzooError(
            f"the shipped classifier {path} is missing; regenerate it with {REGENERATE.format(name=name)}"
        )
    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})


@functools.cache
def load_classifier(name: str, device: str = "cpu") -> LeNet:
    """The shipped classifier `name` in eval mode on `device`, loaded once per process and device."""
    meta = classifier_metadata(name)
    net = LeNet(LeNetConfig.from_json(meta["config"]))
    net.load_state_dict(load_file(str(weights_path(name)), device="cpu"))
    return net.to(device).eval().requires_grad_(False)


# ---------------------------------------------------------------- feature spaces


def default_space(info: DataInfo) -> str:
    """ "classifier" where genzoo ships one for this data, else "pixels"."""
    return "classifier" if shipped_classifier(info) is not None else "pixels"


def resolve_space(space: str, info: DataInfo) -> str:
    """`space` checked against `FEATURE_SPACES`, with "auto" → `default_space`."""
    if space == "auto":
        return default_space(info)
    if space not in FEATURE_SPACES:
        raise GenzooError(f"unknown feature space {space!r}{suggest(space, (*FEATURE_SPACES, 'auto'))}")
    if space == "classifier":
        _require_classifier(info)
    return space


class FeatureExtractor:
    """Maps examples (N, *info.shape) to features (N, F) float64 in one space.

    ``fx = FeatureExtractor(info, "pca").fit(real)`` then ``fx(real)``, ``fx(fake)``: both go
    through the same fitted projection. `fit` is needed only for "pca" (a no-op otherwise).

    PCA: with reference pixels X (N, D) and mean μ, the SVD X − μ = U S Vᵀ gives the components
    as the first k = min(pca_dims, N − 1, D) rows of Vᵀ (each signed so that its largest-magnitude
    entry is positive), and features (x − μ) Vₖ. They are not whitened."""

    def __init__(
        self, info: DataInfo, space: str = "auto", *, pca_dims: int = 64, batch_size: int = 1000
    ) -> None:
        if pca_dims < 1:
            raise GenzooError(f"pca_dims must be at least 1, got {pca_dims}")
        self.info = info
        self.space = resolve_space(space, info)  # fail before any sampling, on a bad request
        self.pca_dims = pca_dims
        self.batch_size = batch_size

    # ------------------------------------------------------------ public

    @property
    def num_features(self) -> int:
        if self.space == "classifier":
            return SHIPPED[_require_classifier(self.info)].features
        if self.space == "pixels":
            return self.info.dim
        return self._pca()[1].shape[0]

    def fit(self, reference: ArrayLike) -> FeatureExtractor:
        """Fit the PCA on the real examples `reference` (N, *info.shape); returns self."""
        if self.space != "pca":
            return self
        x = self._pixels(reference)
        if len(x) < 2:
            raise GenzooError(f"pca features need at least 2 reference examples, got {len(x)}")
        self.mean_ = x.mean(0)
        _, s, vt = np.linalg.svd(x - self.mean_, full_matrices=False)
        k = min(self.pca_dims, len(x) - 1, x.shape[1])
        comps = vt[:k]
        signs = np.sign(comps[np.arange(k), np.abs(comps).argmax(1)])
        self.components_ = comps * np.where(signs == 0, 1.0, signs)[:, None]  # (k, D), orthonormal rows
        var = s**2
        self.explained_variance_ratio_ = var[:k] / var.sum() if var.sum() > 0 else np.zeros(k)
        self.n_reference_ = len(x)
        return self

    def __call__(self, x: ArrayLike) -> np.ndarray:
        """Features (N, F) float64 of examples `x` (N, *info.shape), a tensor on any device or an array."""
        if self.space == "classifier":
            return self._classifier(x)
        pixels = self._pixels(x)
        if self.space == "pixels":
            return pixels
        mean, comps = self._pca()
        return (pixels - mean) @ comps.T

    def class_probabilities(self, x: ArrayLike) -> np.ndarray:
        """The shipped classifier's class probabilities softmax(logits) (N, classes) float64 of
        examples `x` (N, *info.shape) — in any feature space, since only the classifier has them."""
        t = self._examples(x)
        net = load_classifier(_require_classifier(self.info), str(t.device))
        out = [np.zeros((0, net.config.num_classes))]
        with torch.no_grad():
            for chunk in torch.split(t, self.batch_size):
                out.append(torch.softmax(net(chunk.float().clamp(0, 1)).double(), dim=1).cpu().numpy())
        return np.concatenate(out)

    def describe(self) -> str:
        """The protocol for metrics.json: which space, its dimension, how it was made."""
        if self.space == "pca" and hasattr(self, "components_"):
            k, ratio = self.components_.shape[0], float(self.explained_variance_ratio_.sum())
            return (
                f"pca ({k} components of the {_what(self.info)}, {ratio:.0%} of the variance, "
                f"fit on {self.n_reference_} real examples)"
            )
        return describe(self.space, self.info, pca_dims=self.pca_dims)

    # ------------------------------------------------------------ internals

    def _pca(self) -> tuple[np.ndarray, np.ndarray]:
        if not hasattr(self, "components_"):
            raise GenzooError(
                "pca features are fitted on the real data: pass reference= (or call fit(reference) first)"
            )
        return self.mean_, self.components_

    def _examples(self, x: ArrayLike) -> Tensor:
        """`x` as a float tensor (N, *info.shape) on its own device, mapped to [0, 1] for images."""
        t = torch.as_tensor(x).detach()
        shape = tuple(self.info.shape)
        if t.ndim == 2 and t.shape[1] == math.prod(shape) and len(shape) > 1:
            t = t.reshape(len(t), *shape)
        if tuple(t.shape[1:]) != shape:
            raise GenzooError(
                f"{self.space} features for {self.info.name}: expected examples of shape {shape}, "
                f"got {tuple(t.shape[1:])}"
            )
        t = t.double() if t.dtype == torch.float64 else t.float()
        if not bool(torch.isfinite(t).all()):
            raise GenzooError(
                f"{self.space} features for {self.info.name}: the examples contain NaN or infinite values"
            )
        lo, hi = self.info.value_range
        if self.info.kind == "image" and math.isfinite(lo) and math.isfinite(hi) and (lo, hi) != (0.0, 1.0):
            t = (t - lo) / (hi - lo)
        return t

    def _pixels(self, x: ArrayLike) -> np.ndarray:
        t = self._examples(x)
        return t.detach().cpu().double().reshape(len(t), -1).numpy()

    def _classifier(self, x: ArrayLike) -> np.ndarray:
        t = self._examples(x)
        net = load_classifier(_require_classifier(self.info), str(t.device))
        out = [np.zeros((0, net.num_features))]
        with torch.no_grad():
            for chunk in torch.split(t, self.batch_size):
                # the classifier saw only [0, 1]; samples slightly out of range are clipped to it
                out.append(net.features(chunk.float().clamp(0, 1)).double().cpu().numpy())
        return np.concatenate(out)


def extract(
    x: ArrayLike,
    info: DataInfo,
    space: str = "auto",
    *,
    reference: ArrayLike | None = None,
    pca_dims: int = 64,
) -> np.ndarray:
    """Features (N, F) float64 of `x` (N, *info.shape) in `space` (see `FEATURE_SPACES`, or
    "auto"); "pca" is fit on `reference` first. To project real and generated examples with the
    same PCA, fit a `FeatureExtractor` once and call it on both."""
    fx = FeatureExtractor(info, space, pca_dims=pca_dims)
    if reference is not None:
        fx.fit(reference)
    return fx(x)


def describe(space: str, info: DataInfo, *, pca_dims: int = 64) -> str:
    """A short protocol string for metrics.json, e.g.
    "classifier lenet-mnist (128-d penultimate layer, test acc 0.992 grey / 0.990 binarised)"."""
    space = resolve_space(space, info)
    if space == "classifier":
        name = _require_classifier(info)
        meta = classifier_metadata(name)
        return (
            f"classifier lenet-{name} ({SHIPPED[name].features}-d penultimate layer, test acc "
            f"{float(meta['test_acc_grey']):.3f} grey / {float(meta['test_acc_binary']):.3f} binarised)"
        )
    if space == "pixels":
        return f"pixels ({info.dim}-d coordinates)" if info.kind == "points" else f"pixels ({info.dim}-d)"
    return f"pca (up to {pca_dims} components of the {_what(info)}, fit on the real data)"


def _what(info: DataInfo) -> str:
    return "coordinates" if info.kind == "points" else "pixels"
