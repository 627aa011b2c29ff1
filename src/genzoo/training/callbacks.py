"""Hooks into training for Python users, and TensorBoard written through them.

A :class:`Callback` overrides any of its methods; `genzoo.train(model, data, callbacks=[...])`
calls them in the process that writes the run (rank 0 of a torchrun job):

- `on_step(trainer, step, terms)`: after every step; `terms` the step's loss terms as the model
  returned them (floats, or device tensors on CUDA — reading one waits for the GPU);
- `on_log(trainer, record)`: each log record, as log.jsonl gets it (every `log_every` steps);
- `on_checkpoint(trainer, step)`: after a checkpoint is written (weights, samples.png, the card);
- `on_evaluate(run_dir, result)`: after `genzoo evaluate` wrote metrics.json;
- `on_end(trainer, run)`: once, when training returns (also after a stop or a time limit; `run`
  is None when training raised).

`train.log_to=tensorboard` (`genzoo train --tensorboard`) adds :class:`TensorBoard`: the logged
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

    def on_step(self, trainer: Any, step: int, terms: dict[str, Any]) -> None:
        pass

    def on_log(self, trainer: Any, record: dict[str, Any]) -> None:
        pass

    def on_checkpoint(self, trainer: Any, step: int) -> None:
        pass

    def on_evaluate(self, run_dir: Path, result: dict[str, Any]) -> None:
        pass

    def on_end(self, trainer: Any, run: Any) -> None:
        pass


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
