"""Hooks into training for Python users; the progress bar, the sample grid and TensorBoard are
written through them.

A `Callback` overrides any of its methods; `genzoo.train(model, data, callbacks=[...])`
calls them in the process that writes the run (rank 0 of a torchrun job):

- `on_start(trainer)`: when the steps start (`trainer.step` is where they start: 0, or the
  checkpoint's step on a resume or after a rollback);
- `on_step(trainer, step, terms)`: after every step (after its log record, on a logging step);
  `terms` the step's loss terms as the model returned them (floats, or device tensors on CUDA —
  reading one waits for the GPU);
- `on_log(trainer, record)`: each log record, as log.jsonl gets it (every `log_every` steps);
- `on_checkpoint(trainer, step)`: after a checkpoint's weights and state are written (the model
  card, README.md, follows the callbacks);
- `on_stop(trainer)`: when the steps stop — at the end, at a time limit, on Ctrl-C, on an error,
  or before a rollback (whose steps then start again);
- `on_evaluate(run_dir, result)`: after `genzoo evaluate` wrote metrics.json;
- `on_end(trainer, run)`: once, when training returns (also after a stop or a time limit; `run`
  is None when training raised).

The trainer's own callbacks come first (`standard`): `ProgressBar` (`train.progress`)
and `SampleGrid` (`train.sample_grid`, samples.png at each checkpoint); then the user's.

`train.log_to=tensorboard` (`genzoo train --tensorboard`) adds `TensorBoard`: the logged
losses, learning rate and speed as scalars, the sample grid at each checkpoint as an image and
the metrics of `genzoo evaluate`, as TensorBoard event files in RUN/tensorboard — `tensorboard
--logdir runs` shows every run. TensorBoard is an optional dependency (`pip install tensorboard`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from genzoo.errors import GenzooError

TENSORBOARD_DIR = "tensorboard"


class Callback:
    """Override what you need; every hook does nothing by default."""

    def on_start(self, trainer: Any) -> None:
        pass

    def on_step(self, trainer: Any, step: int, terms: dict[str, Any]) -> None:
        pass

    def on_log(self, trainer: Any, record: dict[str, Any]) -> None:
        pass

    def on_checkpoint(self, trainer: Any, step: int) -> None:
        pass

    def on_stop(self, trainer: Any) -> None:
        pass

    def on_evaluate(self, run_dir: Path, result: dict[str, Any]) -> None:
        pass

    def on_end(self, trainer: Any, run: Any) -> None:
        pass


class ProgressBar(Callback):
    """The run's progress: a bar on a terminal, in a log file or a pipe a line with the time left
    every few seconds (`genzoo.progress.Progress`), with the last logged loss."""

    def __init__(self) -> None:
        self.bar: Any = None

    def on_start(self, trainer: Any) -> None:
        from genzoo.progress import Progress

        self.bar = Progress(trainer.total, initial=trainer.step, desc=trainer.model.name, unit="step")

    def on_log(self, trainer: Any, record: dict[str, Any]) -> None:
        self.bar.set_postfix(loss=f"{record.get('loss', float('nan')):.4g}", refresh=False)

    def on_step(self, trainer: Any, step: int, terms: dict[str, Any]) -> None:
        self.bar.update(1)

    def on_stop(self, trainer: Any) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class SampleGrid(Callback):
    """samples.png at each checkpoint: 64 samples of the saved weights (the EMA weights where EMA
    is on; seed 0, the same noise at every checkpoint), and the same picture kept as this
    checkpoint's frame of the series the report animates."""

    def on_checkpoint(self, trainer: Any, step: int) -> None:
        import torch

        from genzoo.pictures import samples_png
        from genzoo.training import checkpoint as ckpt

        model = trainer.model
        backup = None
        if trainer.ema is not None:
            backup = {k: v.detach().clone() for k, v in model.state_dict().items()}
            model.load_state_dict(trainer.ema.shadow)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad(), torch.random.fork_rng(devices=[]):
                x = model.sample(64, generator=torch.Generator().manual_seed(0))
            png = samples_png(x.float().cpu(), model.info)
            ckpt.atomic_write(trainer.out / ckpt.SAMPLES, lambda p: p.write_bytes(png))
            ckpt.add_frame(trainer.out, step, png)
        finally:
            model.train(was_training)
            if backup is not None:
                model.load_state_dict(backup)


def standard(cfg: Any) -> list[Callback]:
    """The trainer's own callbacks for a run with TrainConfig `cfg` (in the process that writes it)."""
    return [ProgressBar()] * bool(cfg.progress) + [SampleGrid()] * bool(cfg.sample_grid)


def _summary_writer(log_dir: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise GenzooError(
            "train.log_to=tensorboard needs the tensorboard package: pip install tensorboard"
        ) from None
    return SummaryWriter(log_dir=str(log_dir))


class TensorBoard(Callback):
    """TensorBoard event files in `run_dir`/tensorboard (see the module docstring)."""

    SKIP = ("step", "threads")

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.writer = _summary_writer(self.run_dir / TENSORBOARD_DIR)

    def on_log(self, trainer: Any, record: dict[str, Any]) -> None:
        step = int(record["step"])
        for key, value in record.items():
            if key in self.SKIP or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            group = "train" if key not in ("lr", "steps_per_s", "time") else "run"
            self.writer.add_scalar(f"{group}/{key}", float(value), step)
        self.writer.flush()

    def on_checkpoint(self, trainer: Any, step: int) -> None:
        path = self.run_dir / "samples.png"
        if path.is_file():
            import numpy as np
            from PIL import Image

            with Image.open(path) as im:
                picture = np.asarray(im.convert("RGB"))
            self.writer.add_image("samples", picture, step, dataformats="HWC")
            self.writer.flush()

    def on_evaluate(self, run_dir: Path, result: dict[str, Any]) -> None:
        step = int(result.get("step") or 0)
        for metric, value in result.get("metrics", {}).items():
            items = value.items() if isinstance(value, dict) else [("", value)]
            for key, v in items:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
                    continue
                self.writer.add_scalar(f"metrics/{metric}" + (f"/{key}" if key else ""), float(v), step)
        self.writer.flush()

    def on_end(self, trainer: Any, run: Any) -> None:
        self.writer.close()


def for_run(log_to: str, run_dir: Path | None) -> list[Callback]:
    """The callbacks `train.log_to` asks for (TensorBoard needs a run directory)."""
    if log_to == "none":
        return []
    if run_dir is None:
        raise GenzooError("train.log_to=tensorboard writes into the run directory: give out= (--out)")
    return [TensorBoard(run_dir)]
