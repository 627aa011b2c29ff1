"""One lab session: a family training on 2-D points a step at a time, on genzoo's own models and
trainer (Trainer.begin / advance), and the snapshots the page draws — samples from fixed noise, the
critic's values or the density over the plane, the generator's image of a latent grid, the
gradient of the generator's loss at each fake point — with the losses and the known-truth figures
(modes covered, the high-quality share, MMD to the data).

Every value a page sends is checked here (`Session.command`): a bad one is a one-line message,
and training goes on. One lock guards the model: the training thread and the commands take turns.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genzoo.errors import GenzooError, TrainingDiverged
from genzoo.lab import DATASETS, FAMILIES, views

N_POINTS = 2_000  # examples of each dataset
N_SHOWN = 500  # real and fake points drawn (views.Drawing has the sizes of the other pictures)
N_ENCODED = 200  # the first N_ENCODED real points shown: their posteriors on an autoencoder's latent plane
METRICS_EVERY = 1.0  # seconds between the known-truth figures


@dataclass(frozen=True)
class Control:
    """A knob of the page: a model option (section "model") or a training option ("train")."""

    key: str
    label: str
    section: str
    type: str  # "int" | "float" | "choice"
    value: Any
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[str, ...] = ()
    live: bool = False  # cheap to apply: the page sends it while its slider moves

    def describe(self, value: Any) -> dict[str, Any]:
        out = {"key": self.key, "label": self.label, "type": self.type, "value": value}
        if self.type == "choice":
            out["choices"] = list(self.choices)
        else:
            step = 1 if self.type == "int" else (self.low or 1e-6)
            out.update(min=self.low, max=self.high, step=step, log=self.log, live=self.live)
        return out

    def check(self, value: Any) -> Any:
        """The value as this control's type, within its range; else a GenzooError in one line."""
        if self.type == "choice":
            if value not in self.choices:
                raise GenzooError(f"{self.label}: expected one of {', '.join(self.choices)}, got {value!r}")
            return value
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise GenzooError(f"{self.label}: expected a number, got {value!r}") from None
        if not math.isfinite(number) or not self.low <= number <= self.high:
            raise GenzooError(
                f"{self.label}: expected a number in [{self.low:g}, {self.high:g}], got {value!r}"
            )
        if self.type == "int":
            if number != int(number):
                raise GenzooError(f"{self.label}: expected an integer, got {value!r}")
            return int(number)
        return number


def _lr(value: float) -> Control:
    return Control("lr", "learning rate", "train", "float", value, 1e-5, 1e-1, log=True)


def _width_depth(width: int, depth: int) -> list[Control]:
    return [
        Control("width", "hidden width", "model", "int", width, 4, 512),
        Control("depth", "hidden layers", "model", "int", depth, 1, 6),
    ]


def _batch(value: int) -> Control:
    return Control("batch_size", "batch size", "train", "int", value, 8, 1024)


LOSSES = ("minimax", "non-saturating", "wgan", "wgan-gp")
CONTROLS: dict[str, tuple[Control, ...]] = {
    "gan": (
        _lr(5e-4),
        Control(
            "loss",
            "loss",
            "model",
            "choice",
            "non-saturating",
            choices=LOSSES,
        ),
        Control("critic_steps", "critic steps per generator step", "model", "int", 1, 1, 10),
        Control("latent_dim", "latent size", "model", "int", 2, 1, 16),
        *_width_depth(256, 3),
        _batch(256),
    ),
    "vae": (
        _lr(1e-3),
        Control("beta", "β (KL weight)", "model", "float", 1.0, 0.0, 10.0),
        Control("latent_dim", "latent size", "model", "int", 2, 1, 16),
        *_width_depth(128, 2),
        _batch(128),
    ),
    "ddpm": (
        _lr(1e-3),
        # T = 200 reaches ring8's 8 modes in the lab's first minute (the family's T = 1,000 learns more slowly
        # at this budget): BENCHMARKS.md, "The lab", `python benchmarks/bench_lab.py --part defaults`
        Control("timesteps", "noise levels T", "model", "int", 200, 10, 5000),
        Control("schedule", "noise schedule", "model", "choice", "linear", choices=("linear", "cosine")),
        *_width_depth(128, 3),
        _batch(128),
    ),
    "aae": (
        _lr(1e-3),
        # a mixture of 8 narrow Gaussians on a circle of radius 2 (N(0, I) puts mass between ring8's modes):
        # BENCHMARKS.md, "The lab", `python benchmarks/bench_lab.py --part defaults`
        Control("prior", "prior p(z)", "model", "choice", "mixture", choices=("gaussian", "mixture")),
        Control("prior_modes", "mixture components", "model", "int", 8, 1, 16),
        Control("prior_std", "mixture σ", "model", "float", 0.05, 0.01, 1.0, log=True),
        Control("code_dim", "code size", "model", "int", 2, 2, 16),
        *_width_depth(128, 2),
        _batch(128),
    ),
    "kde": (Control("bandwidth", "bandwidth", "model", "float", 0.2, 0.01, 2.0, log=True, live=True),),
    "infogan": (
        _lr(1e-3),
        Control("loss", "loss", "model", "choice", "non-saturating", choices=LOSSES[:2] + LOSSES[3:]),
        Control("categories", "categories of the code", "model", "int", 8, 2, 16),
        Control("continuous", "continuous codes", "model", "int", 0, 0, 4),
        Control("lambda_cat", "λ (categorical code)", "model", "float", 1.0, 0.0, 10.0),
        Control("latent_dim", "noise size", "model", "int", 2, 1, 16),
        *_width_depth(128, 2),
        _batch(128),
    ),
}
SUMMARIES = {
    "gan": "a generator and a critic in a two-player game",
    "vae": "an encoder and a decoder trained on the ELBO",
    "ddpm": "a denoiser trained to reverse a noising chain",
    "aae": "an autoencoder whose codes a discriminator pushes towards the prior",
    "kde": "a Gaussian bump on every training point",
    "infogan": "a GAN whose critic also reads back a code the generator was given",
}
LAYERS = {  # the data plane's layers, then the latent plane's ("posterior", "prior")
    "gan": ("real", "fake", "heat", "grid", "arrows"),
    "vae": ("real", "fake", "grid", "posterior", "prior"),
    "aae": ("real", "fake", "grid", "posterior", "prior"),
    "ddpm": ("real", "fake", "trajectories"),
    "kde": ("real", "fake", "heat", "contours"),
    "infogan": ("real", "fake", "heat", "arrows"),
}


def points_data(name: str, drawn: torch.Tensor | None = None) -> Any:
    """The training points: one of DATASETS (N_POINTS of its training split), or the drawn ones."""
    from genzoo.data import load
    from genzoo.data.base import DataInfo, Dataset

    if name != "drawn":
        return load(name, split="train", n=N_POINTS)
    if drawn is None or len(drawn) < 2:
        raise GenzooError("draw at least two points first")
    return Dataset(drawn.float(), DataInfo("drawn", "points", (2,), (-math.inf, math.inf)))


CHART = {  # the loss terms charted, of those a family's step returns (the others repeat these)
    "gan": ("d_loss", "g_loss", "gp"),
    "vae": ("loss", "recon", "kl"),
    "aae": ("recon", "d_loss", "g_loss"),
    "ddpm": ("loss",),
    "kde": (),
    "infogan": ("d_loss", "g_loss", "info", "q_acc"),
}


def shown_losses(terms: dict[str, float], family: str) -> dict[str, float | None]:
    """The family's charted terms of a step (CHART; a phase of a step has fewer), rounded; None for a
    non-finite one (JSON has no NaN)."""
    return {k: round(terms[k], 5) if math.isfinite(terms[k]) else None for k in CHART[family] if k in terms}


class Session:
    """The lab's state — family, data, options, model, trainer — and what the page asks of it."""

    def __init__(self, model: str = "gan", data: str = "ring8", *, seed: int = 0, threads: int = 1) -> None:
        if model not in FAMILIES:
            raise GenzooError(f"the lab plays {', '.join(FAMILIES)}; got {model!r}")
        if data not in DATASETS:
            raise GenzooError(f"the lab's data are {', '.join(DATASETS)} (or points you draw); got {data!r}")
        self.lock = threading.RLock()
        self.family, self.data_name, self.seed, self.threads = model, data, seed, threads
        self.values = {f: {c.key: c.value for c in CONTROLS[f]} for f in FAMILIES}
        self.drawn: torch.Tensor | None = None
        self.playing = False
        self.speed = 100  # training steps per snapshot at most (fewer: slow motion)
        self.losses: dict[str, float] = {}
        self.metrics_at = 0.0  # when the last known-truth figures were asked for
        self.rate = 0.0  # training steps per second of wall time, smoothed (set by whoever drives it)
        self.run = 0  # bumped by every build: new weights at step 0 (a recording starts again)
        self.build()

    # --- building -------------------------------------------------------------------------------
    def build(self) -> None:
        """A fresh model and trainer from the current family, data, options and seed (step 0)."""
        from genzoo.config import build
        from genzoo.models import create
        from genzoo.training.trainer import TrainConfig, Trainer

        with self.lock:
            self.data = points_data(self.data_name, self.drawn)
            params, train = self.options()
            self.model = create(self.family, self.data, seed=self.seed, **params)
            cfg = build(TrainConfig, {**self.model.default_train, **train}, section="train")
            self.trainer = Trainer(self.model, self.data, cfg, None)
            self.trainer.begin()
            self.run += 1
            self.losses, self.metrics_at = {}, 0.0
            x = self.data.tensors()
            self.real = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:N_SHOWN]]
            self.real_shown = views.rounded(self.real)
            lo, hi = x.min(0).values, x.max(0).values
            pad = 0.15 * float((hi - lo).max()) + 1e-3
            centre = (lo + hi) / 2
            half = float((hi - lo).max()) / 2 + pad
            self.bounds = [
                float(centre[0]) - half,
                float(centre[0]) + half,
                float(centre[1]) - half,
                float(centre[1]) + half,
            ]
            # the true density where it is known (ring8, grid25: equal Gaussians N(μ_k, σ²I)), drawn
            # by the page as each component's 1σ, 2σ and 3σ circles (within 3σ: "high quality")
            extras = self.data.extras
            self.truth = (
                {"modes": views.rounded(torch.as_tensor(extras["modes"])), "sigma": float(extras["sigma"])}
                if "modes" in extras
                else None
            )
            # the pictures' copy of the model, in shared memory (a drawing process reads it there)
            view = copy.deepcopy(self.model).eval().share_memory()
            truth = views.truth_of(self.data, N_SHOWN)
            self.drawing = views.Drawing(
                view, LAYERS[self.family], self.bounds, self.real[:N_ENCODED], truth, shown=N_SHOWN
            )

    def options(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(model options, training options) from the controls' values."""
        values = self.values[self.family]
        params: dict[str, Any] = {}
        train: dict[str, Any] = {
            "seed": self.seed,
            "threads": self.threads,
            "progress": False,
            "sample_grid": False,
            "steps": 10**9,
            "schedule": "constant",
            "warmup": 0,
            "ema": 0,  # the weights drawn are the weights saved (an EMA's average would be saved instead)
        }
        for c in CONTROLS[self.family]:
            if c.key in ("width", "depth"):
                continue
            (train if c.section == "train" else params)[c.key] = values[c.key]
        if "width" in values:
            params["hidden"] = (values["width"],) * values["depth"]
        if self.family == "kde":
            train = {k: v for k, v in train.items() if k not in ("steps", "schedule", "warmup")}
        if self.family == "aae":
            params["disc_hidden"] = params["hidden"]
            params["prior_radius"] = 2.0
        if self.family == "infogan":
            params["q_hidden"] = params["hidden"][:1]
        return params, train

    # --- the page's commands ----------------------------------------------------------------------
    def command(self, cmd: dict[str, Any]) -> str:
        """Carry out one command of the page; returns what to tell the user. A bad command or value
        raises GenzooError (one line); the session is unchanged and training goes on."""
        if not isinstance(cmd, dict):
            raise GenzooError("a command is a JSON object with an action")
        action = cmd.get("action")
        handler = {
            "play": self._play,
            "pause": self._pause,
            "step": self._step,
            "reset": self._reset,
            "set": self._set,
            "speed": self._speed,
            "seed": self._seed,
            "model": self._model,
            "data": self._data,
            "points": self._points,
        }.get(action)
        if handler is None:
            raise GenzooError(f"unknown action {action!r}")
        with self.lock:
            return handler(cmd)

    def _play(self, cmd: dict[str, Any]) -> str:
        self.playing = self.model.trainable
        return "playing" if self.playing else f"{self.family} is fitted, not trained: move its sliders"

    def _pause(self, cmd: dict[str, Any]) -> str:
        self.playing = False
        return "paused"

    def _step(self, cmd: dict[str, Any]) -> str:
        """One training step, or one of its phases alone (a GAN's critic or generator update)."""
        self.playing = False
        if not self.model.trainable:
            return f"{self.family} is fitted, not trained: move its sliders"
        phase = cmd.get("phase")
        if phase is not None:  # Trainer.advance refuses a phase the model does not have
            self.train_steps(1, phase)
            return f"step {self.trainer.step}: the {phase} alone"
        self.train_steps(1)
        return f"step {self.trainer.step}"

    def _reset(self, cmd: dict[str, Any]) -> str:
        self.build()
        return "new weights, step 0"

    def _set(self, cmd: dict[str, Any]) -> str:
        key = cmd.get("key")
        control = next((c for c in CONTROLS[self.family] if c.key == key), None)
        if control is None:
            raise GenzooError(f"{self.family} has no control {key!r}")
        value = control.check(cmd.get("value"))
        old = self.values[self.family][key]
        self.values[self.family][key] = value
        if key == "lr":
            self.trainer.set_learning_rate(value)
            return f"learning rate {value:g} from the next step"
        try:
            self.build()
        except GenzooError:
            self.values[self.family][key] = old
            raise
        return f"{control.label} {value}: new weights, step 0"

    def _speed(self, cmd: dict[str, Any]) -> str:
        self.speed = Control("speed", "speed", "train", "int", 1, 1, 100).check(cmd.get("value"))
        return f"{self.speed} steps per picture"

    def _seed(self, cmd: dict[str, Any]) -> str:
        self.seed = Control("seed", "seed", "train", "int", 0, 0, 2**31 - 1).check(cmd.get("value"))
        self.build()
        return f"seed {self.seed}: new weights, step 0"

    def _model(self, cmd: dict[str, Any]) -> str:
        name = Control("model", "model", "model", "choice", "gan", choices=FAMILIES).check(cmd.get("name"))
        self.family, self.playing = name, False
        self.build()
        return f"{name}: {SUMMARIES[name]}"

    def _data(self, cmd: dict[str, Any]) -> str:
        names = (*DATASETS, "drawn") if self.drawn is not None else DATASETS
        self.data_name = Control("data", "data", "train", "choice", "ring8", choices=names).check(
            cmd.get("name")
        )
        self.build()
        return f"data {self.data_name}"

    def _points(self, cmd: dict[str, Any]) -> str:
        pts = cmd.get("points")
        try:
            x = torch.tensor(pts, dtype=torch.float64)
        except (TypeError, ValueError):
            raise GenzooError("points: expected a list of [x, y] pairs") from None
        if x.ndim != 2 or x.shape[1] != 2 or not 2 <= len(x) <= 20_000 or not torch.isfinite(x).all():
            raise GenzooError("points: expected 2 to 20,000 finite [x, y] pairs")
        self.drawn, self.data_name = x.float(), "drawn"
        self.build()
        return f"{len(x)} drawn points are the data now"

    # --- training --------------------------------------------------------------------------------
    def train_steps(self, n: int, phase: str | None = None, *, run: int | None = None) -> int:
        """n training steps (under the lock; a phase of the step alone), the losses of the last kept;
        the steps taken. Given the `run` they were planned for while playing, none are taken if a
        command has since paused the session or built a new model (which may not train at all)."""
        with self.lock:
            if run is not None and (run != self.run or not self.playing):
                return 0
            try:
                for _ in range(n):
                    self.losses = self.trainer.advance(phase)
            except TrainingDiverged as exc:
                self.playing = False
                raise GenzooError(f"training diverged ({exc}); reset, or lower the learning rate") from None
            return n

    def copy_view(self) -> tuple[dict[str, Any], bool, views.Drawing]:
        """Copy the weights into the pictures' copy (under the lock): (the frame's head — run,
        step, losses, ... —, whether its known-truth figures are due, the run's Drawing)."""
        with self.lock:
            self.drawing.view.load_state_dict(self.model.state_dict())
            head = {
                "run": self.run,
                "step": self.trainer.step,
                "playing": self.playing,
                "steps_per_second": round(self.rate, 1),
                "bounds": self.bounds,
                "losses": shown_losses(self.losses, self.family),
            }
            metrics = time.perf_counter() - self.metrics_at >= METRICS_EVERY
            if metrics:
                self.metrics_at = time.perf_counter()
            return head, metrics, self.drawing

    # --- what the page draws ------------------------------------------------------------------------
    def session_info(self) -> dict[str, Any]:
        with self.lock:
            return {
                "models": {
                    f: {
                        "summary": SUMMARIES[f],
                        "controls": [c.describe(self.values[f][c.key]) for c in CONTROLS[f]],
                    }
                    for f in FAMILIES
                },
                "datasets": [*DATASETS, *(["drawn"] if self.drawn is not None else [])],
                "model": self.family,
                "data": self.data_name,
                "real": self.real_shown,  # the data's points drawn, sent with the session, not each picture
                "bounds": self.bounds,
                "seed": self.seed,
                "speed": self.speed,
                "layers": [*LAYERS[self.family], *(["truth"] if self.truth else [])],
                "phases": list(self.model.phases),
                "truth": self.truth,
            }

    def snapshot(self) -> dict[str, Any]:
        """What the page draws now (see the module docstring), computed from a copy of the weights
        taken under the lock: the pictures never touch the trained model (its mode, its RNG)."""
        head, metrics, drawing = self.copy_view()
        return {**head, "message": None, **drawing.picture(metrics)}

    def save(self, out: str | Path) -> Path:
        """The session as a genzoo run directory (Trainer.save_to: config.json, the weights, the
        training state, samples.png), which `genzoo evaluate`, `report` and `sample` take."""
        with self.lock:
            return self.trainer.save_to(out)
