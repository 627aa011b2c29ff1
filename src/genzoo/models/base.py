"""The small protocol every generative model implements.

A model is an `nn.Module` built from a typed config dataclass and the `DataInfo` of
its data. It owns its loss (or, where it needs several optimisers or no gradient loss,
its `training_step`); the trainer owns everything else. Every model samples; models
with a tractable or bounded likelihood implement `log_prob` and say in
`likelihood` whether it is "exact", a "bound" or an "estimate"; latent models implement
`encode` / `decode`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from numbers import Integral
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from genzoo.data.base import DataInfo, Dataset
from genzoo.errors import GenzooError


class StepContext:
    """What a model's `GenerativeModel.training_step` may use: the optimisers and
    `optimize`, which applies loss scaling (mixed precision) and gradient clipping."""

    def __init__(
        self,
        optimizers: list[torch.optim.Optimizer],
        *,
        scaler: torch.amp.GradScaler | None = None,
        grad_clip: float | None = None,
        step: int = 0,
        total: int = 0,
        reduce: Callable[[Iterable[nn.Parameter]], None] | None = None,
        phase: str | None = None,
        accumulate: tuple[int, int, float] | None = None,
    ) -> None:
        self.optimizers = optimizers
        self.scaler = scaler
        self.grad_clip = grad_clip
        self.step = step  # steps done before this one (0-based index of this step)
        self.total = total  # the run's total number of steps (for staged training)
        self.reduce = reduce  # data-parallel training: averages gradients over the ranks
        self.phase = phase  # one of the model's `phases` alone (the lab's half steps), or None: all
        # train.accumulate: (part j, of k, its share of the batch): gradients add up over the parts,
        # the update is taken after the last
        self.accumulate = accumulate
        self.updates = 0  # optimize() calls in this (part of a) step

    def reduce_gradients(self, opt: torch.optim.Optimizer) -> None:
        """Average the gradients of `opt`'s parameters over the ranks of a data-parallel run
        (nothing in one process); call it after backward, before clipping and stepping."""
        if self.reduce is not None:
            self.reduce([p for group in opt.param_groups for p in group["params"]])

    def optimize(self, loss: Tensor, index: int = 0) -> None:
        """zero_grad, backward, clip, step for optimiser `index`. Under train.accumulate each part of
        the batch adds its share of the gradient (zero_grad before the first part), and the last
        part takes the update: the update of the whole batch for a loss that is a mean over it."""
        opt = self.optimizers[index]
        self.updates += 1
        acc = self.accumulate
        if acc is not None:
            if self.updates > 1 or index != 0:
                raise GenzooError(
                    "train.accumulate: this model takes several updates in a step; accumulation needs one"
                )
            part, parts, share = acc
            if part == 0:
                opt.zero_grad(set_to_none=True)
            loss = loss * share
            if part < parts - 1:
                (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
                return
        else:
            opt.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.reduce_gradients(opt)
            if self.grad_clip:
                self.scaler.unscale_(opt)
                self._clip(opt)
            self.scaler.step(opt)
            self.scaler.update()
        else:
            loss.backward()
            self.reduce_gradients(opt)
            if self.grad_clip:
                self._clip(opt)
            opt.step()

    def _clip(self, opt: torch.optim.Optimizer) -> None:
        params = [p for group in opt.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_norm_(params, self.grad_clip)


def class_labels(
    label: Any, n: int, freq: Tensor, info: DataInfo, generator: torch.Generator | None = None
) -> Tensor:
    """Labels (n,) int64 for a conditional model: `label` (an int, or a tensor of n or one),
    checked to lie in [0, K); None draws them from the class frequencies `freq` (K,)."""
    k = info.num_classes
    if label is None:
        dev = generator.device if generator is not None else freq.device
        return torch.multinomial(freq.to(dev), n, replacement=True, generator=generator)
    if isinstance(label, Integral) and not isinstance(label, bool):
        y = torch.full((n,), int(label), dtype=torch.long)
    elif (
        torch.is_tensor(label)
        and not label.is_floating_point()
        and not label.is_complex()
        and label.dtype != torch.bool
    ):
        y = label.reshape(-1).long()
        if len(y) == 1:
            y = y.expand(n)
        elif len(y) != n:
            raise GenzooError(f"label: {len(y)} labels for {n} examples; give one label or one per example")
    else:
        raise GenzooError(
            f"label must be an integer class in [0, {k - 1}] or a tensor of them, got {label!r}"
        )
    if len(y) and (y.min() < 0 or y.max() >= k):
        bad = int(y[(y < 0) | (y >= k)][0])
        raise GenzooError(f"label must be in [0, {k - 1}] ({info.name} has {k} classes), got {bad}")
    return y


def expand_mask(mask: Any, x: Tensor, info: DataInfo) -> Tensor:
    """A completion mask (1 / non-zero = known, 0 = to fill) as 0/1 floats of x's shape (n, *shape),
    on x's device, or a one-line error. `mask` is one per example (n, *shape) or one for all
    (*shape); for images also (H, W) or (n, H, W), the same on every channel."""
    shape = tuple(info.shape)
    if tuple(x.shape[1:]) != shape:
        raise GenzooError(
            f"examples have shape {tuple(x.shape[1:])}, {info.name} examples have shape {shape}"
        )
    m = torch.as_tensor(mask)
    allowed = [shape, (len(x), *shape)] + ([shape[1:], (len(x), *shape[1:])] if len(shape) == 3 else [])
    if tuple(m.shape) not in allowed:
        want = " or ".join(str(a) for a in allowed)
        raise GenzooError(
            f"mask has shape {tuple(m.shape)}; for {len(x)} {info.name} examples it must be {want} "
            f"(1 = known, 0 = fill)"
        )
    if len(shape) == 3 and tuple(m.shape[-2:]) == shape[1:] and tuple(m.shape[-3:]) != shape:
        m = m.unsqueeze(-3)  # (H, W) or (n, H, W): the same mask on every channel
    m = (m != 0).float().to(x.device)  # all 0: plain sampling; all 1: x itself
    return m.expand(len(x), *shape)


def require_binary(x: Tensor, what: str) -> None:
    """One-line error unless every value of x is 0 or 1 (Bernoulli units, binarised images)."""
    if not bool(((x == 0) | (x == 1)).all()):
        raise GenzooError(
            f"{what} needs binary data (0/1); binarise images with --set data.binarize=dynamic (or static)"
        )


HOLES = ("bottom-half", "top-half", "left-half", "right-half", "center")


def hole_mask(name: str, shape: tuple[int, ...]) -> Tensor:
    """A named mask for images (C, H, W): 1 where pixels are known, 0 in the hole to fill —
    the bottom/top/left/right half, or the central square of half the side."""
    if len(shape) != 3:
        raise GenzooError(
            f"mask {name!r}: named holes are for images and fields; "
            f"give a mask file for data of shape {tuple(shape)}"
        )
    _, h, w = shape
    m = torch.ones(shape)
    if name == "bottom-half":
        m[:, h // 2 :] = 0
    elif name == "top-half":
        m[:, : h // 2] = 0
    elif name == "left-half":
        m[:, :, : w // 2] = 0
    elif name == "right-half":
        m[:, :, w // 2 :] = 0
    elif name == "center":
        m[:, h // 4 : h // 4 + h // 2, w // 4 : w // 4 + w // 2] = 0
    else:
        raise GenzooError(f"mask {name!r}: not a file and not a named hole ({', '.join(HOLES)})")
    return m


@dataclass(frozen=True)
class TourEntry:
    """How the tour trains a family on one of its natural datasets: data and model options, and
    the training budget of the quick tour (under 10 minutes for all families on 2 CPU cores)
    and of the full one (within an hour)."""

    data: str
    quick_steps: int
    steps: int
    data_options: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    quick: bool = True  # False: only the full tour runs it (a budget the quick tour cannot afford)
    full_train: dict[str, Any] = field(
        default_factory=dict
    )  # the full tour's training options on top of `train`

    def train_options(self, *, quick: bool) -> dict[str, Any]:
        """The training options of the quick or the full tour: `train`, and in the full one
        `full_train` on top (a budget many times longer can want another rate)."""
        return dict(self.train) if quick else {**self.train, **self.full_train}


class GenerativeModel(nn.Module):
    """Base of every genzoo model (one level of inheritance, no more)."""

    name: ClassVar[str] = ""
    Config: ClassVar[type]
    likelihood: ClassVar[str | None] = None  # "exact" | "bound" | "estimate" | None
    discrete: bool = False  # log_prob is a probability of discrete (binary) values, not a density
    binary_likelihood: bool = False  # log_prob is a probability of binary values only (Bernoulli pixels)
    latent: ClassVar[bool] = False  # has a latent space: decode / sample_latent / latent_shape
    encodes: ClassVar[bool] = False  # also maps data to it: encode (autoencoders, VAEs; not GANs)
    conditional: ClassVar[bool] = False  # sample() takes label=
    denoising: ClassVar[bool] = (
        False  # trained to reconstruct clean examples from corrupted ones (`genzoo denoise`)
    )
    exact_points: ClassVar[bool] = (
        False  # sample(points=(rows, cols, values)) honours point data exactly (kriging)
    )
    kinds: ClassVar[tuple[str, ...]] = ("image", "points", "field")  # the kinds of data it models
    trainable: ClassVar[bool] = True  # False: fitted once in prepare(), no optimisation loop
    # the parts of a training step that can be taken alone (StepContext.phase), e.g. a GAN's
    # ("critic", "generator"): the lab's one-critic-step and one-generator-step buttons
    phases: ClassVar[tuple[str, ...]] = ()
    # one update per step through ctx.optimize, of a loss that is a mean over the batch: the batch
    # can be split by train.accumulate (False for adversarial pairs, CD-trained RBMs)
    accumulates: ClassVar[bool] = True
    channels_last: ClassVar[bool] = False  # its convolutions measured faster NHWC (train.channels_last=auto)
    default_train: ClassVar[dict[str, Any]] = {}  # per-model defaults for the trainer (steps, lr, ...)
    terms: ClassVar[
        dict[str, str]
    ] = {}  # what logged loss terms mean, for messages: {"d_loss": "the critic's loss"}
    summary: ClassVar[str] = ""
    tour: ClassVar[tuple[TourEntry, ...]] = ()  # what `genzoo tour` trains this family on
    # what `genzoo train NAME` trains on without --data: (dataset, options); None = the first tour entry's
    default_data: ClassVar[tuple[str, dict[str, Any]] | None] = None
    # the keyword options sample() and inpaint() take beyond the examples, generator= and label=:
    # dataclasses of option()s (default None: the model's own), from which the command line makes
    # its flags (`genzoo sample --steps`, `genzoo condition --resample`); None: takes none
    SampleOptions: ClassVar[type | None] = None
    InpaintOptions: ClassVar[type | None] = None

    def __init__(self, config: Any, info: DataInfo) -> None:
        super().__init__()
        if info.kind not in self.kinds:
            raise GenzooError(
                f"model {self.name!r} models {' and '.join(k for k in self.kinds)} data; "
                f"{info.name} is {info.kind} data"
            )
        self.config = config
        self.info = info

    # --- training -------------------------------------------------------------------------
    def prepare(self, data: Dataset) -> None:
        """Called once by the trainer before the first step (fit a KDE, set output biases)."""

    def refresh(self, data: Dataset, *, final: bool = True) -> None:
        """Recompute state derived from the weights and the data — an autoencoder's code
        distribution — called by the trainer before every checkpoint (`final` False: a cheap
        refit will do) and at the end of training (`final` True: a stop by time limit or Ctrl-C
        included), with the EMA weights in place where EMA is used. It must not change what
        training does next, so that a resumed run stays exact; the default does nothing."""

    def loss(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Named loss terms; "loss" is the one minimised."""
        raise NotImplementedError(f"{type(self).__name__} defines no loss")

    def training_step(self, batch: dict[str, Tensor], ctx: StepContext) -> dict[str, Tensor]:
        """One optimisation step; the default minimises `loss` with the first optimiser."""
        terms = self.loss(batch)
        ctx.optimize(terms["loss"])
        return terms

    def configure_optimizers(
        self, make: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
    ) -> list[torch.optim.Optimizer]:
        """The optimisers, built by the trainer's factory `make(params)` (Adam/AdamW at its lr)."""
        return [make(self.parameters())]

    # --- the user's API --------------------------------------------------------------------
    def sample(self, n: int, *, generator: torch.Generator | None = None, **condition: Any) -> Tensor:
        raise NotImplementedError

    def log_prob(self, x: Tensor) -> Tensor:
        """log p(x) per example, in nats; see `likelihood` for what kind of number it is."""
        raise GenzooError(f"model {self.name!r} has no likelihood")

    def encode(self, x: Tensor) -> Tensor:
        raise GenzooError(f"model {self.name!r} has no latent space to encode into")

    def decode(self, z: Tensor) -> Tensor:
        raise GenzooError(f"model {self.name!r} has no latent space to decode from")

    def latent_shape(self) -> tuple[int, ...]:
        raise GenzooError(f"model {self.name!r} has no latent space")

    def sample_latent(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """n codes (n, *latent_shape) from the model's distribution over its latent space; by
        default the standard normal prior N(0, I) (drawn on the generator's device)."""
        dev = generator.device if generator is not None else torch.device("cpu")
        return torch.randn((n, *self.latent_shape()), generator=generator, device=dev)

    def reconstruct(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    def anomaly_score(self, x: Tensor) -> Tensor:
        """Higher = more anomalous: the negative log-likelihood where there is one, else the
        squared reconstruction error ‖decode(encode(x)) − x‖² of latent models."""
        if self.likelihood is not None:
            return -self.log_prob(x)
        if self.encodes:
            return ((self.reconstruct(x).to(x.dtype) - x) ** 2).flatten(1).sum(1)
        raise GenzooError(
            f"model {self.name!r} has neither a likelihood nor an encoder to score anomalies with"
        )

    # --- weights ---------------------------------------------------------------------------
    def save_pretrained(self, folder: str | Path, *, samples: bool = True) -> Path:
        """This model as a Hub-style folder — config.json, model.safetensors, samples.png and a
        model card README.md (`genzoo.hub`) — that `genzoo.load` and `from_pretrained` read."""
        from genzoo.hub import save_pretrained

        return save_pretrained(self, folder, samples=samples)

    @classmethod
    def from_pretrained(cls, folder: str | Path, *, device: str = "cpu") -> GenerativeModel:
        """The model saved in `folder` (a run directory or a `save_pretrained` folder), in eval mode;
        a folder holding another family is refused in one line (`GenerativeModel` takes any)."""
        from genzoo.hub import from_pretrained

        return from_pretrained(folder, family=cls.name or None, device=device)

    def load_weights(self, state: dict[str, Tensor]) -> None:
        """Load a state dict saved by this model class; a mismatch is a user error."""
        try:
            self.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()
            detail = " ".join(line.strip() for line in first[1:3]) or first[0]
            raise GenzooError(
                f"checkpoint does not match the config of model {self.name!r}: {detail}"
            ) from None

    @property
    def device(self) -> torch.device:
        for t in self.parameters():
            return t.device
        for t in self.buffers():
            return t.device
        return torch.device("cpu")

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


# --- abilities: declared once, checked where a command or a page needs them ------------------------
@runtime_checkable
class Inpaints(Protocol):
    """Fills the masked part of examples given the rest (`genzoo condition --mask`)."""

    def inpaint(self, x: Tensor, mask: Any, *, generator: torch.Generator | None = None) -> Tensor: ...


@runtime_checkable
class Edits(Protocol):
    """Redraws examples as another class, keeping their style (`genzoo edit`)."""

    def edit(self, x: Tensor, label: Any) -> Tensor: ...


@runtime_checkable
class Translates(Protocol):
    """Maps images of one domain to another (`genzoo translate`)."""

    def translate(self, x: Tensor, direction: str = "a2b") -> Tensor: ...

    def translation_shapes(self, direction: str = "a2b") -> tuple[tuple[int, ...], tuple[int, ...]]: ...


@runtime_checkable
class Classifies(Protocol):
    """Assigns labels to examples (the `classify` metric, where the model was trained with labels)."""

    def classify(self, x: Tensor) -> Tensor: ...


@runtime_checkable
class HasFilters(Protocol):
    """Has first-layer weights that read as images (the report's Filters section)."""

    def filters(self) -> Tensor: ...


@runtime_checkable
class Trajectories(Protocol):
    """Samples by a chain of states from noise to data, and returns the whole chain (the report's
    Denoising trajectory section)."""

    def trajectory(
        self, n: int, *, generator: torch.Generator | None = None, steps: int | None = None
    ) -> Tensor: ...


# ability -> (its heading in `genzoo list models`, whether a model class has it); the class
# attributes (likelihood, latent, encodes, conditional) and the protocols above are the declarations
ABILITIES: dict[str, tuple[str, Callable[[type], bool]]] = {
    "likelihood": ("likelihood", lambda cls: cls.likelihood is not None),
    "latent": ("latent space", lambda cls: cls.latent),
    "encodes": ("encoder", lambda cls: cls.encodes),
    "conditional": ("labels", lambda cls: cls.conditional),
    "points": ("exact point data", lambda cls: cls.exact_points),
    "inpaints": ("inpainting", lambda cls: issubclass(cls, Inpaints)),
    "edits": ("editing", lambda cls: issubclass(cls, Edits)),
    "translates": ("translation", lambda cls: issubclass(cls, Translates)),
}


def options_class(cls: type, method: str) -> type | None:
    """The dataclass of the options a model class declares for `method` ("sample" or "inpaint"):
    its SampleOptions or InpaintOptions (None: it takes none)."""
    if method not in ("sample", "inpaint"):
        raise ValueError(f"method must be sample or inpaint, got {method!r}")
    return cls.SampleOptions if method == "sample" else cls.InpaintOptions


def declared_options(cls: type, method: str) -> dict[str, Any]:
    """{name: dataclasses.Field} of the options a model class declares for `method` (options_class)."""
    options = options_class(cls, method)
    return {} if options is None else {f.name: f for f in dataclasses.fields(options)}


def abilities(cls: type) -> list[str]:
    """The abilities (keys of ABILITIES) of a model class, in ABILITIES' order."""
    return [name for name, (_, has) in ABILITIES.items() if has(cls)]
