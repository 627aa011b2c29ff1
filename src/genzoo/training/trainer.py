"""One trainer for every family.

The model owns its loss (or its `training_step`); the trainer owns the loop: data order,
devices, mixed precision, optimisers and schedules, gradient clipping, EMA, checkpoints,
resume, logging and the progress bar.

Repeatability: a CPU run is a pure function of its seed. The global torch RNG (model noise)
and a separate data generator (order, dynamic binarisation) are both seeded, and both are
saved in every checkpoint with the optimiser and the position in the epoch, so that a run
stopped at step k and resumed to N ends with exactly the weights of a run trained straight
to N (with a schedule that depends on N, such as cosine, the schedule is that of the N now given).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from genzoo import distributed as dd
from genzoo import threads
from genzoo.config import build, option, to_dict
from genzoo.data.base import Dataset
from genzoo.errors import GenzooError, TrainingDiverged
from genzoo.models.base import GenerativeModel, StepContext
from genzoo.training import checkpoint as ckpt
from genzoo.version import __version__


@dataclass
class TrainConfig:
    """Training options (`--set train.KEY=VALUE`; `--steps`, `--lr`, ... are shortcuts)."""

    steps: int | None = option(
        None, low=0, help="total optimisation steps (default 1000 when neither steps nor epochs is given)"
    )
    epochs: int | None = option(None, low=0, help="total epochs; converted to steps")
    batch_size: int = option(128, low=1)
    accumulate: int = option(
        1,
        low=1,
        help="split each batch into this many parts whose gradients add up before one update: the "
        "update of the whole batch with the memory of a part",
    )
    lr: float = option(1e-3, low=0.0)
    optimizer: str = option("adam", choices=("adam", "adamw"))
    betas: tuple[float, float] = option((0.9, 0.999), low=0.0, high=1.0)
    weight_decay: float = option(0.0, low=0.0)
    schedule: str = option(
        "constant", choices=("constant", "cosine", "linear"), help="learning-rate decay after warm-up"
    )
    warmup: int = option(0, low=0, help="linear warm-up steps")
    grad_clip: float | None = option(None, low=0.0, help="clip the gradient norm to this value")
    ema: float | None = option(
        None, low=0.0, high=1.0, help="EMA decay of the weights, e.g. 0.999; the EMA weights are saved"
    )
    seed: int = option(0, low=0)
    device: str = option("auto", choices=("auto", "cpu", "cuda"))
    precision: str = option(
        "auto",
        choices=("auto", "fp32", "bf16", "fp16"),
        help="auto = bf16 on CUDA where supported, fp32 on CPU; bf16 also on the CPU (autocast), fp16 on "
        "CUDA only",
    )
    fused: bool = option(
        True,
        help="Adam/AdamW's fused update (one kernel for all parameters; CUDA, and the CPU from torch 2.4): "
        "1.1–1.3× faster steps for the small MLP families here; the same update up to rounding",
    )
    compile: str = option(
        "none",
        choices=("none", "inductor", "aot_eager"),
        help="torch.compile every submodule of the model with this backend (inductor: generated kernels, "
        "needs a C++ compiler on the CPU; aot_eager: traced graphs, no code generation)",
    )
    channels_last: str = option(
        "auto",
        choices=("auto", "on", "off"),
        help="keep 4-D convolution weights channels-last (NHWC), the layout oneDNN and cuDNN run fastest, in "
        "training and when the run is loaded; auto = on for the conv families that measured faster so "
        "(conv GAN, DDPM, PixelCNN, VQ-VAE)",
    )
    time_limit: float | None = option(
        None,
        low=0.0,
        help="stop (and save) after this many seconds of training; schedules that depend on the total "
        "(cosine/linear decay, stacked-ae's stages) still follow steps",
    )
    on_diverge: str = option(
        "stop",
        choices=("stop", "rollback"),
        help="when a loss term or a weight becomes NaN/inf: stop (the last good checkpoint is kept), or roll "
        "back to the last checkpoint and go on with the learning rate times rollback_factor (at most "
        "max_rollbacks times)",
    )
    rollback_factor: float = option(
        0.5, low=0.0, high=1.0, help="on_diverge=rollback: the learning rate's factor at each rollback"
    )
    max_rollbacks: int = option(3, low=0, help="on_diverge=rollback: how many rollbacks before the run stops")
    checkpoint_every: int = option(1000, low=1)
    log_every: int = option(10, low=1)
    sample_grid: bool = option(True, help="write samples.png at every checkpoint")
    log_to: str = option(
        "none",
        choices=("none", "tensorboard"),
        help="also write the losses, sample grids and metrics as TensorBoard events in RUN/tensorboard "
        "(needs the tensorboard package)",
    )
    progress: bool = option(True, help="show a progress bar")
    data_on_device: str = option(
        "auto",
        choices=("auto", "on", "off"),
        help="hold the training data on the run's device and draw their batches there (augmentation and "
        "dynamic binarisation from a generator on that device, saved in the checkpoint); auto: on CUDA, "
        "for data in memory taking at most a quarter of the GPU's memory",
    )
    threads: int | None = option(
        None,
        low=1,
        aliases={"auto": None},
        help="intra-op CPU threads (--threads N); auto: chosen by timing a few steps at each count on a copy "
        "of the model at the start, and again when the rate changes (the machine's load); the count is "
        "recorded in config.json and train_state.pt, and --resume keeps it. A seeded run is bit-identical "
        "for a given count",
    )


@dataclass
class Run:
    """What `genzoo.train` returns: the trained model, its directory and its log."""

    model: GenerativeModel
    path: Path | None
    step: int
    log: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def __repr__(self) -> str:
        last = self.log[-1] if self.log else {}
        loss = f", loss={last['loss']:.4g}" if isinstance(last.get("loss"), float) else ""
        where = f", path={str(self.path)!r}" if self.path is not None else ""
        return f"Run({self.model.name!r}, step={self.step}{loss}{where}, log=[{len(self.log)} records])"


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise GenzooError("train.device=cuda: CUDA is not available on this machine")
    return torch.device(name)


def _precision(cfg: TrainConfig, device: torch.device) -> torch.dtype | None:
    """The autocast dtype, or None for plain fp32."""
    if device.type != "cuda" or cfg.precision == "fp32":
        if cfg.precision == "fp16" and device.type != "cuda":
            raise GenzooError(
                "train.precision=fp16: float16 autocast needs CUDA; use bf16, fp32 or auto on the CPU"
            )
        if cfg.precision == "bf16" and device.type != "cuda":
            return torch.bfloat16  # CPU autocast in bfloat16 (no gradient scaler needed)
        return None
    if cfg.precision == "fp16":
        return torch.float16
    if cfg.precision == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def _lr_factor(cfg: TrainConfig, step: int, total: int) -> float:
    """Multiplier of the base lr at `step` (0-based): linear warm-up, then constant/cosine/linear decay."""
    if cfg.warmup and step < cfg.warmup:
        return (step + 1) / cfg.warmup
    if cfg.schedule == "constant" or total <= cfg.warmup:
        return 1.0
    t = (step - cfg.warmup) / max(1, total - cfg.warmup)
    if cfg.schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * t))
    return 1.0 - t


class EMA:
    """Exponential moving average of a model's floating-point state: s ← d_t·s + (1 − d_t)·θ with
    the warm-up d_t = min(d, (1 + t)/(10 + t)) at update t = 0, 1, … (as TensorFlow's and
    diffusers' EMA do): without it the random initial weights keep a share d^n of the average after
    n updates — 17 % after 1,800 updates at d = 0.999."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def decay_at(self, t: int) -> float:
        return min(self.decay, (1 + t) / (10 + t))

    @torch.no_grad()
    def update(self, model: torch.nn.Module, t: int) -> None:
        d = self.decay_at(t)
        for k, v in model.state_dict().items():
            s = self.shadow[k]
            if s.is_floating_point():
                s.lerp_(v.detach(), 1.0 - d)
            else:
                s.copy_(v)


class _Batches:
    """Shuffled mini-batches without replacement, drawn from a dedicated generator; its state
    (generator, current permutation, position) is part of the checkpoint. Images read from disk
    are decoded ahead by the folder's worker processes (`genzoo.data.stream.Prefetcher`):
    the same batches, in the same order."""

    def __init__(self, data: Dataset, batch_size: int, seed: int, device: torch.device | None = None) -> None:
        self.data = data if device is None else data.to(device)
        self.batch_size = min(batch_size, len(data))
        self.generator = torch.Generator().manual_seed(seed + 1_000_003)
        self.perm = torch.randperm(len(data), generator=self.generator)
        self.pos = 0
        # data held on `device`: the batches' draws (augmentation, dynamic binarisation) come from a
        # generator there; else from the batch order's own
        self.draws = (
            self.generator if device is None else torch.Generator(device).manual_seed(seed + 2_000_003)
        )
        workers = getattr(data.store, "workers", 0) if data.on_disk else 0
        self.prefetch = None
        if workers:
            from genzoo.data.stream import Prefetcher

            self.prefetch = Prefetcher(data, workers)

    @property
    def per_epoch(self) -> int:
        return len(self.data) // self.batch_size

    def next(self) -> dict[str, torch.Tensor]:
        if self.pos + self.batch_size > len(self.perm):
            self.perm = torch.randperm(len(self.data), generator=self.generator)
            self.pos = 0
            if self.prefetch is not None:
                self.prefetch.restart()
        start = self.pos
        idx = self.perm[start : start + self.batch_size]
        self.pos += self.batch_size
        if self.prefetch is None:
            return self.data.batch(idx.to(self.draws.device), generator=self.draws)
        return self.data.finish(self.prefetch.next(self.perm, start, idx), idx, generator=self.draws)

    def close(self) -> None:
        if self.prefetch is not None:
            self.prefetch.close()

    def state(self) -> dict[str, Any]:
        out = {"generator": self.generator.get_state(), "perm": self.perm.clone(), "pos": self.pos}
        if self.draws is not self.generator:
            out["draws"] = self.draws.get_state()
        return out

    def load(self, state: dict[str, Any]) -> None:
        perm, pos = state["perm"], int(state["pos"])
        n = len(self.data)
        if not (
            torch.is_tensor(perm)
            and perm.dtype == torch.long
            and perm.shape == (n,)
            and torch.equal(perm.sort().values, torch.arange(n))
            and 0 <= pos <= n
        ):
            raise ValueError(f"its batch order is not a permutation of the {n} examples")
        self.generator.set_state(state["generator"])
        if self.draws is not self.generator and state.get("draws") is not None:
            self.draws.set_state(state["draws"])
        self.perm, self.pos = perm, pos
        if self.prefetch is not None:
            self.prefetch.restart()


class _StopFlag:
    """Turns SIGINT/SIGTERM into a flag checked between steps, so a stop saves a consistent checkpoint."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signal is not None:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.signal = signum

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _total_steps(cfg: TrainConfig, model: GenerativeModel, n: int) -> int:
    if not model.trainable:
        return 0
    if cfg.steps is not None and cfg.epochs is not None:
        raise GenzooError("give either train.steps or train.epochs, not both")
    if cfg.epochs is not None:
        return cfg.epochs * max(1, n // min(cfg.batch_size, n))
    return 1000 if cfg.steps is None else cfg.steps


def _run_config(
    model: GenerativeModel, data: Dataset, cfg: TrainConfig, threads: dict[str, Any] | None = None
) -> dict[str, Any]:
    source = data.source or {"name": data.info.name, "options": None}
    out = {
        "genzoo_version": __version__,
        "model": {"name": model.name, "params": to_dict(model.config)},
        "data": {"name": source["name"], "options": source.get("options")},
        "data_info": data.info.to_dict(),
        "train": to_dict(cfg),
    }
    if threads is not None:  # the intra-op thread count the run started with, and how it was chosen
        out["threads"] = threads
    return out


class Trainer:
    """Trains one model on one dataset; see `train`."""

    DEFER_SYNC: bool | None = None  # keep loss terms on the device between logging steps; None: on CUDA only
    # threads=auto takes the free cores without timing them in runs of fewer steps than this (a few
    # heavy steps, which the free cores serve best: timing would cost a share of the run) ...
    PROBE_MIN_STEPS = 200
    PROBE_MIN_SECONDS = 5.0  # ... in runs expected to take less than this (timed by two steps) ...
    PROBE_MAX_SHARE = 0.03  # ... and where the smallest timing would cost more than this share of the run

    def __init__(
        self,
        model: GenerativeModel,
        data: Dataset,
        cfg: TrainConfig,
        out: Path | None,
        callbacks: list[Any] | None = None,
    ) -> None:
        self.callbacks = list(callbacks or [])
        if len(data) == 0:
            raise GenzooError(f"dataset {data.info.name!r} is empty")
        if data.info != model.info:
            _check_compatible(model, data)
        self.model, self.data, self.cfg, self.out = model, data, cfg, out
        self.rank, self.world, self.device = dd.setup(resolve_device(cfg.device))
        self.main = self.rank == 0  # writes the checkpoints, the log and the samples
        if self.world > 1 and cfg.batch_size * self.world > len(
            data
        ):  # one process clamps the batch to the data
            raise GenzooError(
                f"batch size {cfg.batch_size} per process × {self.world} processes is more than the "
                f"{len(data)} examples of {data.info.name}"
            )
        self.dtype = _precision(cfg, self.device)
        self.total = _total_steps(cfg, model, len(data))
        self.step = 0
        self._bad: dict[
            str, tuple[torch.Tensor, torch.Tensor]
        ] = {}  # deferred checks: first non-finite step per term
        self.defer_sync = self.DEFER_SYNC if self.DEFER_SYNC is not None else self.device.type == "cuda"
        self.log: list[dict[str, Any]] = []
        self.time_offset = 0.0  # training time before a resume, from the log
        self.lr_scale = 1.0  # times rollback_factor after each rollback (train.on_diverge=rollback)
        self.rollbacks = 0

    # --- set-up -------------------------------------------------------------------------------
    def _data_device(self) -> torch.device | None:
        """Where the training data are held when not on the CPU (train.data_on_device)."""
        choice, data = self.cfg.data_on_device, self.data
        if choice == "off" or (choice == "auto" and self.device.type != "cuda"):
            return None
        in_memory = torch.is_tensor(data.store)
        if choice == "on":
            if not in_memory:
                data.to(self.device)  # the one-line refusal
            return self.device
        budget = torch.cuda.get_device_properties(self.device).total_memory // 4
        return self.device if in_memory and data.nbytes <= budget else None

    def _setup(self, resume: bool) -> None:
        cfg, model = self.cfg, self.model
        torch.manual_seed(cfg.seed)
        # every rank draws the same global batch and takes its own part of it
        self.batches = _Batches(self.data, cfg.batch_size * self.world, cfg.seed, self._data_device())
        state = ckpt.load_state(self.out / ckpt.STATE) if resume else None
        if state is None:
            model.prepare(self.data)
        model.to(self.device).train()
        if ckpt.use_channels_last(cfg.channels_last, model):
            model.to(memory_format=torch.channels_last)  # 4-D tensors only; activations follow the weights
        if cfg.compile != "none":
            _compile_children(model, cfg.compile)
        if self.world > 1:
            dd.broadcast_module(model)  # one set of initial weights
            torch.manual_seed(cfg.seed + self.rank)  # independent model noise per rank
        if cfg.accumulate > 1:
            if not model.accumulates:
                raise GenzooError(
                    f"train.accumulate={cfg.accumulate}: {model.name} takes several updates in a step "
                    "(or its own CD update); accumulation is for models with one update per step"
                )
            if cfg.accumulate > cfg.batch_size:
                raise GenzooError(
                    f"train.accumulate={cfg.accumulate} is more than train.batch_size={cfg.batch_size}"
                )
        self.optimizers = model.configure_optimizers(self._make_optimizer) if model.trainable else []
        self.base_lrs = [[g["lr"] for g in o.param_groups] for o in self.optimizers]
        use_scaler = self.dtype == torch.float16
        self.scaler = torch.amp.GradScaler("cuda") if use_scaler else None
        self.ema = EMA(model, cfg.ema) if cfg.ema else None
        if state is not None:
            self._restore(state)
        self._choose_threads(state)

    def _make_optimizer(self, params: Any) -> torch.optim.Optimizer:
        """The factory a model's configure_optimizers builds its optimisers with: Adam/AdamW at the
        configured rate, fused where torch can."""
        cfg = self.cfg
        opt_cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
        params = list(params)
        kwargs = dict(lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
        if cfg.fused:
            try:  # one kernel for the whole update (CUDA; the CPU from torch 2.4)
                return opt_cls(params, fused=True, **kwargs)
            except (RuntimeError, TypeError, ValueError):
                pass  # an older torch, or parameters it cannot fuse: the plain update
        return opt_cls(params, **kwargs)

    # --- threads ------------------------------------------------------------------------------
    def _choose_threads(self, state: dict[str, Any] | None) -> None:
        """The intra-op thread count (see genzoo.threads): --threads N; on --resume the count the run
        had; otherwise timed on a copy of the model, except where timing cannot help or cannot be
        done on a copy (CUDA, several processes, compiled networks, a run of a few seconds)."""
        cfg, self.tuner = self.cfg, None
        saved = state.get("threads") if state is not None else None
        if cfg.threads is not None:
            self.threads = {"count": cfg.threads, "how": "--threads"}
        elif isinstance(saved, int) and saved >= 1:
            self.threads = {"count": saved, "how": "the run's count (--resume)"}
        elif threads.from_environment() is not None:
            self.threads = {"count": threads.from_environment(), "how": "OMP_NUM_THREADS"}
        elif self.device.type != "cpu" or self.world > 1 or cfg.compile != "none" or not self.optimizers:
            self.threads = {"count": torch.get_num_threads(), "how": "torch's default"}
        elif (
            self.total - self.step < self.PROBE_MIN_STEPS
        ):  # too short to time: the cores other processes leave free
            self.threads = {"count": threads.by_load(0.05), "how": "free cores (a short run)"}
        else:
            self.threads = self._probe_threads(first=True)
        torch.set_num_threads(self.threads["count"])

    def _probe_threads(self, *, first: bool = False) -> dict[str, Any]:
        """Choose the count by the machine's load, then by timing: only counts up to the cores other
        processes leave free are candidates (beside a busy process on 2 cores, 1 thread; timing 2
        there would cost a step many times slower than the rest). Several candidates are timed on a
        copy of the model (its own optimisers, a fixed batch, the RNG restored after), within ~2 %
        of the expected training time (0.2–5 s), unless the run is expected to take under
        PROBE_MIN_SECONDS or the smallest timing would cost over PROBE_MAX_SHARE of it (a few
        steps of a second each). The real run is untouched: it computes what --threads N would."""
        t0 = time.perf_counter()
        free = threads.by_load(0.1)
        counts = [c for c in threads.candidates() if c <= free] or [1]
        self.tuner = self.tuner or threads.Tuner()
        self.tuner.reset()
        loaded = {
            "count": counts[-1],
            "how": f"free cores ({free} of {threads.cpu_count()})",
            "at_step": self.step,
        }
        if len(counts) == 1:
            return loaded
        try:
            twin = copy.deepcopy(self.model)
        except Exception:  # a model holding something that cannot be copied: no timing
            return {**loaded, "how": loaded["how"] + "; the model cannot be copied to time it"}
        old = torch.get_num_threads()
        with torch.random.fork_rng(devices=[]):
            opts = twin.configure_optimizers(self._make_optimizer)
            batch = self.data.batch(
                torch.arange(self.batches.batch_size), generator=torch.Generator().manual_seed(0)
            )
            batch = {k: v[: self.cfg.batch_size].to(self.device) for k, v in batch.items()}
            ctx = StepContext(opts, grad_clip=self.cfg.grad_clip, step=self.step, total=self.total)
            autocast = (
                torch.autocast(self.device.type, dtype=self.dtype) if self.dtype else contextlib.nullcontext()
            )

            def step() -> None:
                with autocast:
                    twin.training_step(batch, ctx)

            torch.set_num_threads(1)  # the safe count, to see how long the run will be
            for _ in range(2):  # the first step allocates and picks kernels
                t1 = time.perf_counter()
                step()
            torch.set_num_threads(old)
            per_step = time.perf_counter() - t1
            expected = per_step * max(0, self.total - self.step)
            if first and expected < self.PROBE_MIN_SECONDS:
                self.tuner = None
                return {**loaded, "how": loaded["how"] + "; a run of a few seconds"}
            # the smallest timing: a warm-up step at each other count, then 2 rounds (3 for steps
            # under 50 ms) of every count, each timing at least ~20 ms (threads.probe)
            rounds = 2 if per_step >= 0.05 else 3
            smallest = (len(counts) - 1) * per_step + rounds * len(counts) * max(per_step, 0.02)
            if smallest > self.PROBE_MAX_SHARE * expected:
                if first:
                    self.tuner = None
                return {
                    **loaded,
                    "how": loaded["how"]
                    + f"; timing would cost over {self.PROBE_MAX_SHARE * 100:g} % of the run",
                }
            budget = min(5.0, max(0.2, 0.02 * expected))  # about 2 % of the run
            result = threads.probe(step, counts, budget=budget, warm={1: per_step})
        return {
            "count": result.best,
            "how": "timed",
            "at_step": self.step,
            "free_cores": free,
            **result.to_dict(),
            "probe_seconds": round(time.perf_counter() - t0, 3),
        }

    def _retune(self) -> None:
        """The rate moved (the machine's load changed): time the counts again, from the current weights."""
        self.threads = self._probe_threads()
        torch.set_num_threads(self.threads["count"])

    def _restore(self, state: dict[str, Any]) -> None:
        """Load a train_state.pt into this trainer. One that does not fit the run (another run's, or
        one damaged where no checksums.json could tell) is a one-line GenzooError naming the file."""
        where = self.out / ckpt.STATE if self.out is not None else ckpt.STATE
        try:
            self._restore_state(state)
        except GenzooError as exc:
            if str(where) in str(exc):
                raise
            raise GenzooError(f"{where}: {exc}") from None
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as exc:
            text = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
            raise GenzooError(
                f"{where}: does not fit this run ({type(exc).__name__}{': ' + text if text else ''}); "
                "put back the run's own file, or start again with --overwrite"
            ) from None

    def _restore_state(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict):
            raise TypeError(f"a {type(state).__name__}, not a dict")
        self.model.load_weights(state["model"])
        self.model.to(self.device)
        if len(state["optimizers"]) != len(self.optimizers):
            raise GenzooError("it does not match this model's optimisers")
        for opt, s in zip(self.optimizers, state["optimizers"]):
            opt.load_state_dict(s)
            for group in opt.param_groups:  # a moment of the wrong shape would only fail at the next step
                for p in group["params"]:
                    for key, v in opt.state.get(p, {}).items():
                        if torch.is_tensor(v) and v.dim() > 0 and v.shape != p.shape:
                            raise ValueError(
                                f"optimiser state {key!r} of shape {tuple(v.shape)} for a parameter of shape "
                                f"{tuple(p.shape)}"
                            )
        if self.ema is not None:
            if state.get("ema") is None:
                raise GenzooError("cannot resume with train.ema: the run was trained without EMA")
            shadow = {k: v.to(self.device) for k, v in state["ema"].items()}
            if {k: tuple(v.shape) for k, v in shadow.items()} != {
                k: tuple(v.shape) for k, v in self.ema.shadow.items()
            }:
                raise ValueError("its EMA weights do not match the model's")
            self.ema.shadow = shadow
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.batches.load(state["batches"])
        ranks = state.get("rng_ranks")
        rng = ranks[self.rank] if ranks and len(ranks) == self.world else state["rng"]
        torch.set_rng_state(rng["torch"])
        if self.device.type == "cuda" and rng.get("cuda") is not None:
            torch.cuda.set_rng_state(rng["cuda"])
        self.step = int(state["step"])
        self.lr_scale = float(state.get("lr_scale", 1.0))
        self.rollbacks = int(state.get("rollbacks", 0))
        if self.step < 0 or not 0 <= self.lr_scale <= 1 or self.rollbacks < 0:
            raise ValueError(f"step {self.step}, lr_scale {self.lr_scale}, rollbacks {self.rollbacks}")

    # --- checkpoints --------------------------------------------------------------------------
    def save(self) -> None:
        if self.out is None:
            return
        rng = {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
        }
        rng_ranks = dd.gather_objects(rng) if self.world > 1 else None  # a collective: every rank saves
        if not self.main:
            return
        model_state = self.model.state_dict()
        sampling_state = self.ema.shadow if self.ema is not None else model_state
        state = {
            "step": self.step,
            "model": {k: v.detach().cpu().clone() for k, v in model_state.items()},
            "optimizers": [o.state_dict() for o in self.optimizers],
            "ema": None if self.ema is None else {k: v.cpu() for k, v in self.ema.shadow.items()},
            "scaler": None if self.scaler is None else self.scaler.state_dict(),
            "batches": self.batches.state(),
            "rng": rng,
            "rng_ranks": rng_ranks,
            "lr_scale": self.lr_scale,
            "rollbacks": self.rollbacks,
            "threads": torch.get_num_threads(),
        }
        meta = {"step": str(self.step), "genzoo_version": __version__, "ema": str(self.ema is not None)}
        # train_state.pt first: it is self-contained, so a stop between the two writes resumes cleanly
        ckpt.save_state(self.out / ckpt.STATE, state)
        ckpt.save_weights(self.out / ckpt.WEIGHTS, sampling_state, meta)
        for cb in self.callbacks:  # the sample grid first (callbacks.SampleGrid), then the user's
            cb.on_checkpoint(self, self.step)
        if (self.out / ckpt.CONFIG).is_file():  # a run directory (fit and save_to write config.json first)
            from genzoo.hub import write_card

            write_card(self.out)  # README.md: the model card of the run as it stands

    def _refresh(self, *, final: bool = True) -> None:
        """Let the model recompute its derived state (see GenerativeModel.refresh) for the weights
        that are saved: the EMA weights where EMA is used; `final` at the end of training."""
        model = self.model
        was_training = model.training
        model.eval()
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            if self.ema is None:
                model.refresh(self.data, final=final)
            else:
                raw = {k: v.detach().clone() for k, v in model.state_dict().items()}
                model.load_state_dict(self.ema.shadow)
                model.refresh(self.data, final=final)
                self.ema.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}
                model.load_state_dict(raw)
        model.train(was_training)

    # --- the loop -----------------------------------------------------------------------------
    def fit(self, *, resume: bool = False) -> Run:
        """Train to the total steps (from the last checkpoint with `resume`), holding the run
        directory's lock (rank 0) so that no other process trains into it meanwhile; torch's thread
        count is restored afterwards."""
        from genzoo.training.callbacks import for_run, standard

        old_threads = torch.get_num_threads()
        lock = ckpt.run_lock(self.out) if self.out is not None and self.main else contextlib.nullcontext()
        kept = self.callbacks
        if self.main:  # the progress bar and the sample grid, the user's, then TensorBoard's
            self.callbacks = standard(self.cfg) + kept + for_run(self.cfg.log_to, self.out)
        else:
            self.callbacks = []  # the process that writes the run calls them
        run = None
        try:
            with lock:
                run = self._fit(resume)
                return run
        finally:
            torch.set_num_threads(old_threads)
            if getattr(self, "batches", None) is not None:
                self.batches.close()  # a folder's loader workers end
            for cb in self.callbacks:
                cb.on_end(self, run)
            self.callbacks = kept

    def _fit(self, resume: bool) -> Run:
        if resume and (self.out is None or not (self.out / ckpt.STATE).is_file()):
            raise GenzooError(f"cannot resume: {self.out} has no {ckpt.STATE}")
        self._setup(resume)
        if self.out is not None:
            if self.main:
                self.out.mkdir(parents=True, exist_ok=True)
                ckpt.remove_stale_temporaries(self.out)  # what a killed write left behind
                ckpt.drop_frames(self.out, self.step if resume else -1)  # the sample grids go on from here
                ckpt.write_json(
                    self.out / ckpt.CONFIG, _run_config(self.model, self.data, self.cfg, self.threads)
                )
                if not resume or self.step < self.total:  # the weights change: scores of the old ones go
                    (self.out / ckpt.METRICS).unlink(missing_ok=True)
            self._trim_log()
        if self.step >= self.total:
            if not resume:
                self._refresh()
                self.save()
            return self._finish()
        with _StopFlag() as stop:
            while True:
                try:
                    self._loop(stop)
                    break
                except TrainingDiverged as exc:
                    if not self._roll_back(exc):
                        raise
        return self._finish()

    # --- a step at a time (genzoo lab) ------------------------------------------------------
    def begin(self) -> None:
        """Set up a fresh run to be driven one step at a time with `advance`, as fit() sets
        it up (the model prepared, its optimisers built, the seeded batch order), without a run
        directory; give `threads` in the config to skip timing the thread counts."""
        self._setup(False)
        self.configured_lrs = [list(lrs) for lrs in self.base_lrs]

    def advance(self, phase: str | None = None) -> dict[str, float]:
        """One training step, exactly as fit() takes it: the loss terms of the step (floats). A
        non-finite term raises TrainingDiverged. `phase`: one of the model's `phases` alone (a
        GAN's "critic" or "generator" update), counted as a step."""
        if phase is not None and phase not in self.model.phases:
            have = ", ".join(self.model.phases) or "none"
            raise GenzooError(f"model {self.model.name!r} has no training phase {phase!r} (it has {have})")
        values = self._one_step(phase)
        self.step += 1
        return {k: float(v) for k, v in values.items()}

    def save_to(self, out: str | Path) -> Path:
        """The run so far as a run directory `out` — config.json (its length the steps taken), the
        weights, the training state and samples.png — on which `genzoo evaluate`, `report`,
        `sample` and `train --resume` work. One writer at a time (the run lock)."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        cfg = dataclasses.replace(self.cfg, steps=self.step, epochs=None, sample_grid=True)
        from genzoo.training.callbacks import SampleGrid

        with ckpt.run_lock(out):
            ckpt.write_json(out / ckpt.CONFIG, _run_config(self.model, self.data, cfg, self.threads))
            kept = self.out, self.cfg, self.callbacks
            self.out, self.cfg = out, cfg
            self.callbacks = [SampleGrid(), *(c for c in kept[2] if not isinstance(c, SampleGrid))]
            try:
                self._refresh()
                self.save()
            finally:
                self.out, self.cfg, self.callbacks = kept
        return out

    def set_learning_rate(self, lr: float) -> None:
        """Change the base learning rate of every optimiser from the next step on (each parameter
        group keeps its ratio to the configured rate: a critic's two-time-scale factor stays)."""
        if not (math.isfinite(lr) and lr > 0):
            raise GenzooError(f"learning rate must be a positive number, got {lr}")
        ratio = lr / self.cfg.lr
        self.base_lrs = [[base * ratio for base in lrs] for lrs in self.configured_lrs]
        # the run's rate from now on: what save_to writes, and the base of the next change
        self.cfg = dataclasses.replace(self.cfg, lr=lr)
        self.configured_lrs = [list(lrs) for lrs in self.base_lrs]

    def _roll_back(self, exc: TrainingDiverged) -> bool:
        """train.on_diverge=rollback: reload the last checkpoint and go on with the learning rate
        times rollback_factor; False where that is not possible (then the error stands)."""
        cfg = self.cfg
        if (
            cfg.on_diverge != "rollback"
            or self.world > 1
            or self.out is None
            or not (self.out / ckpt.STATE).is_file()
        ):
            return False
        if self.rollbacks >= cfg.max_rollbacks:
            raise TrainingDiverged(
                f"{exc} — still after {self.rollbacks} rollbacks (train.max_rollbacks)"
            ) from None
        scale, count = self.lr_scale * cfg.rollback_factor, self.rollbacks + 1
        self._restore(ckpt.load_state(self.out / ckpt.STATE))
        self.lr_scale, self.rollbacks, self._bad = scale, count, {}
        self._trim_log()
        print(
            f"genzoo: {exc}; rolled back to step {self.step}, learning rate × {scale:g} "
            f"(rollback {count} of {cfg.max_rollbacks})",
            file=sys.stderr,
        )
        return True

    def _finish(self) -> Run:
        dd.barrier()  # every rank returns after rank 0 has written the last checkpoint
        if self.ema is not None:
            self.model.load_state_dict(self.ema.shadow)
        self.model.eval()
        return Run(self.model, self.out, self.step, self.log)

    def _loop(self, stop: _StopFlag) -> None:
        cfg = self.cfg
        for cb in self.callbacks:
            cb.on_start(self)
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}  # per term: a staged model logs some terms in some steps only
        count, t_last, t0 = 0, time.perf_counter(), time.perf_counter()
        try:
            while self.step < self.total:
                t_step = time.perf_counter()
                terms = self._one_step()
                self.step += 1
                if (
                    self.tuner is not None
                    and self.step < self.total
                    and self.tuner.observe(time.perf_counter() - t_step)
                ):
                    self._retune()
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0.0) + v
                    counts[k] = counts.get(k, 0) + 1
                count += 1
                out_of_time = cfg.time_limit is not None and time.perf_counter() - t0 >= cfg.time_limit
                ending = self.step == self.total or stop.signal is not None or out_of_time
                if self.world > 1:  # stop together, or a rank would wait for the others forever
                    ending = dd.any_rank(ending, self.device)
                checkpoint = self.step % cfg.checkpoint_every == 0 or ending
                if self.step % cfg.log_every == 0 or checkpoint:
                    # CUDA: the one host–device synchronisation, at logging and checkpoint steps
                    self._check()
                if self.step % cfg.log_every == 0 or ending:
                    now = time.perf_counter()
                    record = {"step": self.step, **{k: float(v) / counts[k] for k, v in sums.items()}}
                    record["lr"] = self.optimizers[0].param_groups[0]["lr"] if self.optimizers else 0.0
                    record["steps_per_s"] = count / max(now - t_last, 1e-9)
                    record["threads"] = torch.get_num_threads()
                    record["time"] = self.time_offset + now - t0  # seconds of training, across resumes
                    self._append_log(record)
                    for cb in self.callbacks:
                        cb.on_log(self, record)
                    sums, counts, count, t_last = {}, {}, 0, now
                for cb in self.callbacks:  # after the step's log record (the bar shows its loss)
                    cb.on_step(self, self.step, terms)
                if checkpoint:
                    self._check_weights()
                    self._refresh(final=ending)
                    self.save()  # calls on_checkpoint
                if ending:
                    break
        finally:
            for cb in self.callbacks:
                cb.on_stop(self)
        if stop.signal is not None:
            where = f"; resume with --resume from {self.out}" if self.out else ""
            raise KeyboardInterrupt(f"stopped at step {self.step}{where}")

    def _one_step(self, phase: str | None = None) -> dict[str, Any]:
        batch = self.batches.next()
        if self.world > 1:  # this rank's part of the global batch
            b = self.cfg.batch_size
            batch = {k: v[self.rank * b : (self.rank + 1) * b] for k, v in batch.items()}
        batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        for opt, base in zip(self.optimizers, self.base_lrs):
            factor = _lr_factor(self.cfg, self.step, self.total)
            for group, lr in zip(opt.param_groups, base):
                group["lr"] = lr * factor * self.lr_scale
        autocast = (
            torch.autocast(self.device.type, dtype=self.dtype) if self.dtype else contextlib.nullcontext()
        )
        k = self.cfg.accumulate if phase is None else 1
        size = len(next(iter(batch.values())))
        parts = torch.tensor_split(torch.arange(size), k) if k > 1 else [None]
        terms: dict[str, Any] = {}
        for j, idx in enumerate(parts):
            share = 1.0 if idx is None else len(idx) / size
            ctx = StepContext(
                self.optimizers,
                scaler=self.scaler,
                grad_clip=self.cfg.grad_clip,
                step=self.step,
                total=self.total,
                reduce=dd.average_gradients if self.world > 1 else None,
                phase=phase,
                accumulate=None if idx is None else (j, k, share),
            )
            part = batch if idx is None else {key: v[idx.to(v.device)] for key, v in batch.items()}
            with autocast:
                got = self.model.training_step(part, ctx)
            if idx is None:
                terms = got
                break
            if ctx.updates != 1:
                raise GenzooError(
                    f"train.accumulate: {self.model.name} took {ctx.updates} updates through its step "
                    "context in one step; accumulation needs exactly one"
                )
            for key, v in got.items():  # the whole batch's terms: the parts' weighted by their shares
                v = v.detach() if torch.is_tensor(v) else v
                terms[key] = terms.get(key, 0.0) + share * v
        if self.defer_sync:  # no host–device synchronisation: see _watch
            values = {
                k: v.detach().float() if torch.is_tensor(v) else torch.tensor(float(v), device=self.device)
                for k, v in terms.items()
            }
            self._watch(values)
        else:
            values = {k: float(v.detach()) if torch.is_tensor(v) else float(v) for k, v in terms.items()}
            bad = [k for k, v in values.items() if not math.isfinite(v)]
            if bad:
                self._diverged(bad[0], values[bad[0]], self.step + 1)
        if self.ema is not None:
            self.ema.update(self.model, self.step)
        return values

    def _check_weights(self) -> None:
        """Before a checkpoint: a NaN/inf weight (a finite loss does not rule one out) stops the run
        like a diverged loss, so the last good checkpoint is never overwritten by broken weights."""
        for k, v in self.model.state_dict().items():
            if v.is_floating_point() and not bool(torch.isfinite(v).all()):
                self._diverged(f"weight {k}", float("nan"), self.step)

    def _diverged(self, key: str, value: float, step: int) -> None:
        kept = f"; the last good checkpoint is kept in {self.out}" if self.out else ""
        what = getattr(self.model, "terms", {}).get(key)
        name = f"{what} ({key})" if what else key
        raise TrainingDiverged(
            f"{name} became {value} at step {step}{kept} (try a lower --lr or train.grad_clip)"
        )

    def _watch(self, values: dict[str, torch.Tensor]) -> None:
        """On CUDA the loss terms stay on the device: per term, the first step at which it was not
        finite (and its value) is kept as device tensors, read back only at logging and checkpoint
        steps by `_check`, which then names that step exactly."""
        step = torch.tensor(self.step + 1, device=self.device)
        for k, v in values.items():
            first, value = self._bad.get(k, (torch.zeros((), dtype=torch.long, device=self.device), v))
            new = ~torch.isfinite(v) & (first == 0)
            self._bad[k] = (torch.where(new, step, first), torch.where(new, v, value))

    def _check(self) -> None:
        if not self._bad:
            return
        found = [(int(first), k, float(value)) for k, (first, value) in self._bad.items() if int(first) > 0]
        if found:
            step, key, value = min(found)
            self._diverged(key, value, step)

    # --- log.jsonl ----------------------------------------------------------------------------
    def _trim_log(self) -> None:
        """Keep the records up to the step we start from, so a resumed log never repeats a step."""
        path = self.out / ckpt.LOG
        records = (
            [r for r in ckpt.read_log(self.out) if r.get("step", 0) <= self.step] if self.out.is_dir() else []
        )
        self.log = records
        self.time_offset = float(records[-1].get("time", 0.0)) if records else 0.0
        if self.main:
            ckpt.atomic_write(path, lambda p: p.write_text("".join(json.dumps(r) + "\n" for r in records)))

    def _append_log(self, record: dict[str, Any]) -> None:
        self.log.append(record)
        if self.out is not None and self.main:
            with (self.out / ckpt.LOG).open("a") as fh:
                fh.write(json.dumps(record) + "\n")


def _compile_children(model: torch.nn.Module, backend: str) -> None:
    """Replace the forward of each direct submodule (encoder, decoder, generator, critic, U-Net, ...)
    by its torch.compile'd version, in place: the parameters, their names in the state dict and
    the model's own Python step stay as they are; only the networks' forward and backward passes
    run as compiled graphs (and recompile on new shapes)."""
    if not hasattr(torch, "compile"):
        raise GenzooError("train.compile: this torch has no torch.compile (torch >= 2.0 needed)")
    for child in model.children():
        if any(True for _ in child.parameters()):
            child.forward = torch.compile(child.forward, backend=backend)


def _check_compatible(model: GenerativeModel, data: Dataset) -> None:
    a, b = model.info, data.info
    if tuple(a.shape) != tuple(b.shape) or a.kind != b.kind:
        raise GenzooError(
            f"the model was built for {a.kind} data of shape {a.shape}, but {b.name!r} is {b.kind} data of "
            f"shape {b.shape}"
        )


def train(
    model: GenerativeModel,
    data: Any,
    *,
    out: str | Path | None = None,
    resume: bool = False,
    callbacks: list[Any] | None = None,
    **options: Any,
) -> Run:
    """Train `model` on `data` — a Dataset, or a tensor, a NumPy array, an (x, y) pair or a
    map-style PyTorch dataset (`genzoo.data.python.as_dataset`); options are
    `TrainConfig` fields (steps, lr, seed, ...); `callbacks`: objects of
    `genzoo.training.callbacks.Callback` whose hooks the trainer calls (on_step, on_log,
    on_checkpoint, on_end).

    With `out`, the run directory gets config.json, model.safetensors, train_state.pt,
    log.jsonl and samples.png; `resume=True` continues from its last checkpoint up to the
    `steps` given now. Without it, a run already in `out` is replaced, as running a notebook's cell
    again expects (`genzoo train` refuses that without --overwrite); another process training into
    `out` meanwhile is refused. Training removes the run's metrics.json (`genzoo evaluate`'s scores
    of the weights it replaces). Model-specific defaults (`model.default_train`) fill options not given."""
    from genzoo.data.python import as_dataset

    data = as_dataset(data)
    cfg = build(TrainConfig, {**model.default_train, **options}, section="train")
    trainer = Trainer(model, data, cfg, Path(out) if out is not None else None, callbacks)
    return trainer.fit(resume=resume)
