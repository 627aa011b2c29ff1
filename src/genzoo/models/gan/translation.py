"""Image-to-image translation: CycleGAN (Zhu, Park, Isola & Efros 2017, arXiv:1703.10593) for
unpaired domains and pix2pix (Isola, Zhu, Zhou & Efros 2017, arXiv:1611.07004) for paired
examples. Both learn a map between two image spaces; the data carry the second image of each
example in `Dataset.pair` (see `genzoo.data.base`): the input of each target for paired
sets (`mnist-sr`), an example of domain B beside one of domain A for unpaired sets
(`brick2gravel`).

CycleGAN: generators G: A → B and F: B → A, patch discriminators D_A, D_B. With the
least-squares adversarial loss of the paper (Mao et al. 2017, arXiv:1611.04076), `loss=lsgan`:

    D_B      ½ [(D_B(b) − 1)² + D_B(G(a))²]       (D_A likewise with a, F(b); averaged over patches)
    G, F     (D_B(G(a)) − 1)² + (D_A(F(b)) − 1)²
             + λ_cyc (‖F(G(a)) − a‖₁ + ‖G(F(b)) − b‖₁)          cycle consistency
             + λ_id  (‖G(b) − b‖₁ + ‖F(a) − a‖₁)                 identity (optional, λ_id = 0 off)

or the non-saturating logistic loss (`loss=non-saturating`: D_B −½[log D_B(b) + log(1 − D_B(G(a)))],
G −log D_B(G(a))), with D = σ(logit). ‖·‖₁ is the mean absolute difference over the pixels. The generators are
updated first, then the discriminators on the same fakes, detached; each update touches only its
own networks (the discriminators' parameters do not require gradients during the generators'
update). The paper's history buffer of 50 past fakes is not used.

pix2pix: a U-Net generator G (stride-2 encoder, nearest-upsampling decoder, each decoder stage
concatenated with the encoder features of the same size: skip connections carry the input's
detail straight to the output) and a PatchGAN discriminator D that sees the channel
concatenation of the input and an output, D(x_in, y) = D(cat(x_in, y)), so that it judges
whether y is a plausible translation *of x_in*, not just a plausible image:

    D        −[log D(x_in, x) + log(1 − D(x_in, G(x_in)))] / 2       (loss=non-saturating)
    G        −log D(x_in, G(x_in)) + λ_L1 ‖G(x_in) − x‖₁             (λ_L1 = 100)

updated in that order on each batch (as the authors' code does); `loss=lsgan` swaps in the
least-squares terms. The paper's dropout noise is left out: G is deterministic.

All networks are fully convolutional (3×3 stride-2 convolutions down, nearest upsampling to the
exact size of the matching encoder stage up), so the networks themselves take images of any size
(`translate` takes the training size). A patch
discriminator (stride-2 3×3 convolutions, then a 3×3 convolution to one logit per position)
scores overlapping patches: with the default two stages each output sees a 15×15 patch. The
generators end in a sigmoid scaled to the data's value range; instance normalisation is optional
(`norm`).

Sampling: neither model maps noise to images; each is a *translator*. `sample(n)` therefore
translates n inputs drawn (without replacement while n ≤ `pool`) from a fixed set of `pool`
training inputs — domain-A images for CycleGAN, inputs for pix2pix — stored at `prepare` in a
buffer, so that a saved run samples exactly as the trained model did. The samples live in the
target space (domain B, or the targets), which is what evaluation compares them with; being
translations of training inputs they are not independent draws, and the memorisation metric sees
them close to training targets. `translate(x)` maps any inputs.

Optimisers: [generators, discriminators], Adam with lr 2e-4 and β = (0.5, 0.999) as in both papers
(`default_train`); the tour's short CPU budgets use lr 1e-3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from genzoo.config import option
from genzoo.data.base import DataInfo, Dataset
from genzoo.errors import GenzooError
from genzoo.models.base import GenerativeModel, StepContext, TourEntry
from genzoo.models.gan.losses import critic_loss, generator_loss
from genzoo.models.registry import register_model
from genzoo.nn.blocks import frozen
from genzoo.nn.image2image import PatchDiscriminator, ResnetGenerator, TranslationUNet

LOSSES = ("lsgan", "non-saturating")
NORMS = ("instance", "none")
DIRECTIONS = ("a2b", "b2a")
_CHUNK = 256  # examples per forward pass in translate()


# ---------------------------------------------------------------- shared pieces


def d_loss(loss: str, real: Tensor, fake: Tensor) -> Tensor:
    """A discriminator's loss on the patch outputs for real and fake images, halved as in both papers."""
    if loss == "lsgan":
        return 0.5 * ((real - 1).pow(2).mean() + fake.pow(2).mean())
    return 0.5 * critic_loss("non-saturating", real, fake)


def g_loss(loss: str, fake: Tensor) -> Tensor:
    """A generator's adversarial loss from the discriminator's patch outputs on its fakes."""
    if loss == "lsgan":
        return (fake - 1).pow(2).mean()
    return generator_loss("non-saturating", fake)


def l1(a: Tensor, b: Tensor) -> Tensor:
    return (a - b).abs().mean()


def _shapes(name: str, info: DataInfo, need: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(input shape, output shape) of a translator on `info`; `need` is "two domains" (paired or
    unpaired) or "paired". One-line errors for data that do not fit."""
    if info.pairing is None:
        if need == "paired":
            raise GenzooError(
                f"model {name!r} needs paired examples (an input image for each target, "
                f"e.g. --data mnist-sr); {info.name} has one image per example"
            )
        raise GenzooError(
            f"model {name!r} needs two image domains (e.g. --data brick2gravel); {info.name} has one"
        )
    if need == "paired" and info.pairing != "paired":
        raise GenzooError(
            f"model {name!r} needs paired examples (e.g. --data mnist-sr); {info.name} is unpaired "
            f"(its domains do not correspond example by example)"
        )
    shape, pair = tuple(info.shape), tuple(info.pair_shape or ())
    if len(shape) != 3 or len(pair) != 3:
        raise GenzooError(
            f"model {name!r} translates images of shape (C, H, W); {info.name} has shapes {shape} and {pair}"
        )
    return (pair, shape) if info.pairing == "paired" else (shape, pair)


def _split(batch: dict[str, Tensor], info: DataInfo) -> tuple[Tensor, Tensor]:
    """(input / domain A, target / domain B) of a batch."""
    if "pair" not in batch:
        raise GenzooError(
            "a translation model needs batches with a 'pair' (use a paired or unpaired dataset)"
        )
    return (batch["pair"], batch["x"]) if info.pairing == "paired" else (batch["x"], batch["pair"])


def _fill_pool(pool: Tensor, data: Dataset) -> None:
    """Copy len(pool) training inputs (a fixed shuffle, seed 0, cycled when there are fewer) into `pool`."""
    inputs = data.inputs()
    perm = torch.randperm(len(inputs), generator=torch.Generator().manual_seed(0))
    idx = perm[torch.arange(len(pool)) % len(perm)]
    with torch.no_grad():
        pool.copy_(inputs[idx].to(pool))


def _pick(pool: Tensor, n: int, generator: torch.Generator | None) -> Tensor:
    """n inputs from the pool: without replacement while n ≤ its size, with replacement beyond."""
    if n < 0:
        raise GenzooError(f"cannot draw {n} samples")
    k = len(pool)
    dev = generator.device if generator is not None else pool.device
    if n <= k:
        idx = torch.randperm(k, generator=generator, device=dev)[:n]
    else:
        idx = torch.randint(k, (n,), generator=generator, device=dev)
    return pool[idx.to(pool.device)]


def _run(net: nn.Module, x: Tensor, shape: tuple[int, ...], device: torch.device, what: str) -> Tensor:
    if tuple(x.shape[1:]) != shape:
        raise GenzooError(
            f"{what}: expected inputs of shape (N, {', '.join(map(str, shape))}), got {tuple(x.shape)}"
        )
    x = x.to(device=device, dtype=torch.float32)
    return torch.cat([net(c) for c in torch.split(x, _CHUNK)]) if len(x) else x.new_zeros((0, *shape))


def _no_condition(name: str, condition: dict[str, Any]) -> None:
    if any(v is not None for v in condition.values()):
        raise GenzooError(
            f"model {name!r} cannot condition on {', '.join(sorted(condition))}; it translates stored inputs"
        )


# ---------------------------------------------------------------- CycleGAN


@dataclass
class CycleGANConfig:
    loss: str = option(
        "lsgan",
        choices=LOSSES,
        help="adversarial loss: least squares (the paper's) or non-saturating logistic",
    )
    cycle_weight: float = option(10.0, low=0.0, help="λ_cyc: weight of the cycle-consistency L1 terms")
    identity_weight: float = option(
        0.0, low=0.0, help="λ_id: weight of the identity terms ‖G(b) − b‖₁ + ‖F(a) − a‖₁ (0: off)"
    )
    width: int = option(
        16, low=1, help="channels of the generators' first stage (doubled at each stride-2 stage)"
    )
    down: int = option(2, low=0, high=6, help="stride-2 stages of each generator")
    blocks: int = option(2, low=0, help="residual blocks of each generator, at the lowest resolution")
    disc_channels: tuple[int, ...] = option(
        (32, 64), low=1, help="patch discriminators: channels of the stride-2 stages"
    )
    norm: str = option(
        "instance", choices=NORMS, help="instance normalisation in generators and discriminators, or none"
    )
    pool: int = option(
        256, low=1, high=100_000, help="training inputs (domain A) stored for sample(), which translates them"
    )


@register_model("cyclegan")
class CycleGAN(GenerativeModel):
    """Unpaired image-to-image translation with two generators and cycle consistency."""

    accumulates = False  # several updates in a step (train.accumulate refused)

    Config = CycleGANConfig
    kinds = ("image",)  # pairs of images (the translation datasets)
    pairing: ClassVar[str] = (
        "unpaired"  # the data it is checked on; paired data work too (correspondence unused)
    )
    default_train = {"lr": 2e-4, "betas": (0.5, 0.999), "batch_size": 8}
    terms = {
        "loss": "the generators' loss",
        "g_adv": "the generators' adversarial loss",
        "cycle": "the cycle loss",
        "d_a": "discriminator A's loss",
        "d_b": "discriminator B's loss",
        "d_loss": "the discriminators' loss",
    }
    # brick2gravel (32×32), batch 8, lr 1e-3 (2e-4 gives grey blotches after 250 steps): 250 steps take
    # ~30 s on one CPU thread and turn brick faces into stones; F turns gravel into bright mortar lines.
    # The full tour's 5,000 steps at the paper's 2e-4 with an EMA of the weights: recall 0.43
    # (seed 1: 0.33) against 0.16 at 1e-3 (0.38 at 1e-3 with the EMA; BENCHMARKS.md, "Sample quality
    # at the full tour's budget")
    tour = (
        TourEntry(
            "brick2gravel",
            quick_steps=250,
            steps=5000,
            train={"lr": 1e-3},
            full_train={"lr": 2e-4, "ema": 0.999},
        ),
    )
    summary = "CycleGAN: unpaired translation A ↔ B, two generators, patch discriminators, cycle consistency"

    def __init__(self, config: CycleGANConfig, info: DataInfo) -> None:
        super().__init__(config, info)
        self.shape_a, self.shape_b = _shapes(self.name, info, "two domains")
        ca, cb = self.shape_a[0], self.shape_b[0]
        if config.identity_weight > 0 and ca != cb:
            raise GenzooError(
                f"model.identity_weight: the identity terms need domains with equal channels, "
                f"{info.name} has {ca} and {cb}"
            )
        if not config.disc_channels:
            raise GenzooError("model.disc_channels: the discriminators need at least one stage")
        c = config
        self.G = ResnetGenerator(ca, cb, c.width, c.down, c.blocks, c.norm, info.value_range)
        self.F = ResnetGenerator(cb, ca, c.width, c.down, c.blocks, c.norm, info.value_range)
        self.D_A = PatchDiscriminator(ca, c.disc_channels, c.norm)
        self.D_B = PatchDiscriminator(cb, c.disc_channels, c.norm)
        self.register_buffer("pool", torch.zeros(c.pool, *self.shape_a))

    # --- training ---------------------------------------------------------------------------
    def prepare(self, data: Dataset) -> None:
        """Store the sampling pool and start each generator's output at its target domain's mean."""
        _fill_pool(self.pool, data)
        for net, target in ((self.G, data.tensors()), (self.F, data.inputs())):
            with torch.no_grad():
                net.head.bias.copy_(net.out.inverse(target.mean((0, 2, 3)).to(net.head.bias)))

    def configure_optimizers(self, make: Any) -> list[torch.optim.Optimizer]:
        """[generators G and F, discriminators D_A and D_B]."""
        gens = [*self.G.parameters(), *self.F.parameters()]
        discs = [*self.D_A.parameters(), *self.D_B.parameters()]
        return [make(gens), make(discs)]

    def cycle_loss(self, a: Tensor, b: Tensor) -> Tensor:
        """‖F(G(a)) − a‖₁ + ‖G(F(b)) − b‖₁ (unweighted)."""
        return l1(self.F(self.G(a)), a) + l1(self.G(self.F(b)), b)

    def generator_terms(self, a: Tensor, b: Tensor) -> tuple[dict[str, Tensor], Tensor, Tensor]:
        """The generators' loss terms ("loss" is their weighted sum) and the fakes G(a), F(b)."""
        c = self.config
        fake_b, fake_a = self.G(a), self.F(b)
        adv = g_loss(c.loss, self.D_B(fake_b)) + g_loss(c.loss, self.D_A(fake_a))
        cycle = l1(self.F(fake_b), a) + l1(self.G(fake_a), b)
        terms = {"g_adv": adv, "cycle": cycle}
        total = adv + c.cycle_weight * cycle
        if c.identity_weight > 0:
            terms["identity"] = l1(self.G(b), b) + l1(self.F(a), a)
            total = total + c.identity_weight * terms["identity"]
        terms["loss"] = total
        return terms, fake_a, fake_b

    def discriminator_terms(self, a: Tensor, b: Tensor, fake_a: Tensor, fake_b: Tensor) -> dict[str, Tensor]:
        """D_A on real a against F(b), D_B on real b against G(a); the fakes are detached."""
        loss = self.config.loss
        da = d_loss(loss, self.D_A(a), self.D_A(fake_a.detach()))
        db = d_loss(loss, self.D_B(b), self.D_B(fake_b.detach()))
        return {"d_a": da, "d_b": db, "d_loss": da + db}

    def generator_step(
        self, a: Tensor, b: Tensor, ctx: StepContext
    ) -> tuple[dict[str, Tensor], Tensor, Tensor]:
        """One update of G and F (optimiser 0); the discriminators get no gradient."""
        with frozen(self.D_A, self.D_B):
            terms, fake_a, fake_b = self.generator_terms(a, b)
            ctx.optimize(terms["loss"], 0)
        return terms, fake_a.detach(), fake_b.detach()

    def discriminator_step(
        self, a: Tensor, b: Tensor, fake_a: Tensor, fake_b: Tensor, ctx: StepContext
    ) -> dict[str, Tensor]:
        """One update of D_A and D_B (optimiser 1) against the given fakes."""
        terms = self.discriminator_terms(a, b, fake_a, fake_b)
        ctx.optimize(terms["d_loss"], 1)
        return terms

    def training_step(self, batch: dict[str, Tensor], ctx: StepContext) -> dict[str, Tensor]:
        a, b = _split(batch, self.info)
        terms, fake_a, fake_b = self.generator_step(a, b, ctx)
        terms.update(self.discriminator_step(a, b, fake_a, fake_b, ctx))
        return {k: v.detach() for k, v in terms.items()}

    # --- the user's API ---------------------------------------------------------------------
    def translation_shapes(self, direction: str = "a2b") -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(input shape, output shape) of one example in `direction`."""
        if direction not in DIRECTIONS:
            raise GenzooError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
        return (self.shape_a, self.shape_b) if direction == "a2b" else (self.shape_b, self.shape_a)

    @torch.no_grad()
    def translate(self, x: Tensor, direction: str = "a2b") -> Tensor:
        """G(x) for direction a2b (domain A → B), F(x) for b2a: (N, *shape) → (N, *other shape)."""
        shape, _ = self.translation_shapes(direction)
        return _run(
            self.G if direction == "a2b" else self.F, x, shape, self.device, f"cyclegan translate {direction}"
        )

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, **condition: Any) -> Tensor:
        """G(a) for n domain-A training inputs a drawn from the stored pool (see the module notes)."""
        _no_condition(self.name, condition)
        return self.G(_pick(self.pool, n, generator))


# ---------------------------------------------------------------- pix2pix


@dataclass
class Pix2PixConfig:
    loss: str = option(
        "non-saturating",
        choices=LOSSES,
        help="adversarial loss: non-saturating logistic (the paper's) or least squares",
    )
    l1_weight: float = option(100.0, low=0.0, help="λ_L1: weight of ‖G(x_in) − x‖₁")
    channels: tuple[int, ...] = option(
        (16, 32, 64), low=1, help="U-Net widths: full resolution, then one stride-2 stage per further width"
    )
    disc_channels: tuple[int, ...] = option(
        (32, 64), low=1, help="patch discriminator: channels of the stride-2 stages"
    )
    norm: str = option(
        "instance", choices=NORMS, help="instance normalisation in the U-Net and the discriminator, or none"
    )
    pool: int = option(
        256, low=1, high=100_000, help="training inputs stored for sample(), which translates them"
    )


@register_model("pix2pix")
class Pix2Pix(GenerativeModel):
    """Paired image-to-image translation: U-Net generator, conditional PatchGAN, L1 loss."""

    accumulates = False  # several updates in a step (train.accumulate refused)

    Config = Pix2PixConfig
    kinds = ("image",)  # pairs of images (the translation datasets)
    pairing: ClassVar[str] = "paired"
    default_train = {"lr": 2e-4, "betas": (0.5, 0.999), "batch_size": 32}
    terms = {
        "loss": "the generator's loss",
        "g_adv": "the generator's adversarial loss",
        "l1": "the L1 loss",
        "d_loss": "the discriminator's loss",
    }
    # mnist-sr, batch 32, lr 1e-3: 300 steps take ~20 s on one CPU thread; sharp digits, held-out L1
    # about half that of the blocky input
    tour = (TourEntry("mnist-sr", quick_steps=300, steps=5000, train={"lr": 1e-3}),)
    summary = "pix2pix: paired translation input → target, U-Net generator, conditional PatchGAN + L1"

    def __init__(self, config: Pix2PixConfig, info: DataInfo) -> None:
        super().__init__(config, info)
        self.shape_in, self.shape_out = _shapes(self.name, info, "paired")
        if not config.channels or not config.disc_channels:
            raise GenzooError("model.channels and model.disc_channels need at least one width each")
        c_in, c_out = self.shape_in[0], self.shape_out[0]
        self.generator = TranslationUNet(c_in, c_out, config.channels, config.norm, info.value_range)
        self.discriminator = PatchDiscriminator(c_in + c_out, config.disc_channels, config.norm)
        self.register_buffer("pool", torch.zeros(config.pool, *self.shape_in))

    def prepare(self, data: Dataset) -> None:
        """Store the sampling pool and start G's output at the targets' mean."""
        _fill_pool(self.pool, data)
        head = self.generator.head
        with torch.no_grad():
            head.bias.copy_(self.generator.out.inverse(data.tensors().mean((0, 2, 3)).to(head.bias)))

    def configure_optimizers(self, make: Any) -> list[torch.optim.Optimizer]:
        """[generator, discriminator]."""
        return [make(self.generator.parameters()), make(self.discriminator.parameters())]

    def score(self, x_in: Tensor, y: Tensor) -> Tensor:
        """D's patch logits for output y given input x_in: D(cat(x_in, y) along the channels)."""
        return self.discriminator(torch.cat([x_in, y], 1))

    def training_step(self, batch: dict[str, Tensor], ctx: StepContext) -> dict[str, Tensor]:
        """A discriminator update on (input, target) against (input, G(input)), then a generator update."""
        x_in, x = _split(batch, self.info)
        loss = self.config.loss
        fake = self.generator(x_in)
        d = d_loss(loss, self.score(x_in, x), self.score(x_in, fake.detach()))
        ctx.optimize(d, 1)
        with frozen(self.discriminator):
            adv = g_loss(loss, self.score(x_in, fake))
            rec = l1(fake, x)
            total = adv + self.config.l1_weight * rec
            ctx.optimize(total, 0)
        return {"loss": total.detach(), "g_adv": adv.detach(), "l1": rec.detach(), "d_loss": d.detach()}

    def translation_shapes(self, direction: str = "a2b") -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(input shape, output shape) of one example; pix2pix maps one way only (a2b)."""
        if direction != "a2b":
            raise GenzooError(
                f"model 'pix2pix' translates one way (input → target, a2b); "
                f"direction {direction!r} is not available"
            )
        return self.shape_in, self.shape_out

    @torch.no_grad()
    def translate(self, x: Tensor, direction: str = "a2b") -> Tensor:
        """G(x_in): inputs (N, *input shape) → outputs (N, *target shape)."""
        shape, _ = self.translation_shapes(direction)
        return _run(self.generator, x, shape, self.device, "pix2pix translate")

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, **condition: Any) -> Tensor:
        """G(x_in) for n training inputs drawn from the stored pool (see the module notes)."""
        _no_condition(self.name, condition)
        return self.generator(_pick(self.pool, n, generator))
