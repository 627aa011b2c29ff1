"""A run directory is also a Hub-style model folder: config.json + model.safetensors, and a model
card (README.md) beside them — the model, its data, its training budget, its metrics and its
sample grid. Nothing here touches a network.

`model.save_pretrained(folder)` (or `genzoo.save_pretrained(model, folder)`) writes such a folder
from any model (trained in Python, loaded, conditioned); `Family.from_pretrained(folder)` (any
family's class, or `genzoo.models.GenerativeModel` for any family), `genzoo.from_pretrained(folder,
family=)` and `genzoo.load(folder)` read it back. Every run the trainer writes gets its card at
each checkpoint, and `genzoo evaluate` refreshes it with the metrics.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from genzoo import runfiles as ckpt
from genzoo.atomic import atomic_write, write_json
from genzoo.errors import GenzooError

CARD = ckpt.CARD


def model_config(model: Any) -> dict[str, Any]:
    """config.json for a model outside a run: its family and options, its data's description."""
    from genzoo.config import to_dict
    from genzoo.version import __version__

    return {
        "genzoo_version": __version__,
        "model": {"name": model.name, "params": to_dict(model.config)},
        "data": {"name": model.info.name, "options": None},
        "data_info": model.info.to_dict(),
    }


def save_pretrained(model: Any, folder: str | Path, *, samples: bool = True) -> Path:
    """`model` as a Hub-style folder: config.json, model.safetensors, samples.png (64 samples, seed
    0; `samples=False` skips them) and the model card README.md. One writer at a time (the run
    lock); each file written to a temporary name and renamed."""
    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with ckpt.run_lock(folder):
        write_json(folder / ckpt.CONFIG, model_config(model))
        meta = {"genzoo_version": model_config(model)["genzoo_version"], "saved_by": "save_pretrained"}
        ckpt.save_weights(folder / ckpt.WEIGHTS, model.state_dict(), meta)
        if samples:
            from genzoo.pictures import samples_png

            was = model.training
            model.eval()
            try:
                with torch.no_grad(), torch.random.fork_rng(devices=[]):
                    x = model.sample(64, generator=torch.Generator().manual_seed(0))
            finally:
                model.train(was)
            png = samples_png(x.float().cpu(), model.info)
            atomic_write(folder / ckpt.SAMPLES, lambda p: p.write_bytes(png))
        write_card(folder)
    return folder


def from_pretrained(folder: str | Path, *, family: str | None = None, device: str = "cpu") -> Any:
    """The model saved in `folder`, in eval mode; with `family`, a folder holding another family
    is refused in one line."""
    model = ckpt.load(folder, device=device)
    if family is not None and model.name != family:
        raise GenzooError(f"{folder} holds a {model.name!r} model, not a {family!r}")
    return model


def _number(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else str(v)
    return str(v)


def card(folder: str | Path) -> str:
    """The model card of a run or model folder (Markdown with the Hub's YAML header)."""
    folder = Path(folder)
    cfg = ckpt.read_config(folder)
    model, data, info = cfg["model"], cfg.get("data", {}), cfg.get("data_info", {})
    name = model["name"]
    lines = [
        "---",
        "library_name: genzoo",
        f"tags: [genzoo, {name}, generative-model]",
        "---",
        "",
        f"# {name} on {data.get('name') or info.get('name', '?')}",
        "",
        f'A genzoo `{name}` model. Load it with `genzoo.load("{folder.name}")` (or '
        f"`genzoo sample {folder.name} -n 64 --out samples.png` on the command line); "
        "the weights are safetensors, the options in config.json.",
        "",
        "## Model",
        "",
        "| option | value |",
        "|---|---|",
    ]
    lines += [f"| {k} | {_number(v)} |" for k, v in sorted(model.get("params", {}).items())]
    shape = "×".join(str(s) for s in info.get("shape", []))
    lines += [
        "",
        "## Data",
        "",
        f"`{data.get('name', info.get('name', '?'))}`: {info.get('kind', '?')} of shape {shape}, values in "
        f"{info.get('value_range')}"
        + (f", {info['num_classes']} classes" if info.get("num_classes") else ""),
    ]
    train = cfg.get("train")
    log = ckpt.read_log(folder)
    if train:
        last = log[-1] if log else {}
        budget = f"{last.get('step', train.get('steps'))} steps of batch {train.get('batch_size')}"
        budget += f", lr {_number(train.get('lr'))}, seed {train.get('seed')}"
        if "time" in last:
            budget += f", {float(last['time']):.0f} s"
        if "loss" in last:
            budget += f"; last loss {_number(float(last['loss']))}"
        lines += ["", "## Training", "", budget + "."]
    metrics_path = folder / ckpt.METRICS
    if metrics_path.is_file():
        try:
            metrics = json.loads(metrics_path.read_text()).get("metrics", {})
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            metrics = {}
        rows = []
        for metric, value in sorted(metrics.items()):
            if isinstance(value, dict):
                rows += [
                    f"| {metric} | {k} | {_number(v)} |"
                    for k, v in value.items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool)
                ]
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                rows.append(f"| {metric} | | {_number(value)} |")
        if rows:
            lines += [
                "",
                "## Metrics (`genzoo evaluate`)",
                "",
                "| metric | | value |",
                "|---|---|---:|",
                *rows,
            ]
    if (folder / ckpt.SAMPLES).is_file():
        lines += ["", "## Samples", "", f"![64 samples, seed 0]({ckpt.SAMPLES})"]
    return "\n".join(lines) + "\n"


def write_card(folder: str | Path) -> None:
    """README.md (the model card) of `folder`, written to a temporary name and renamed."""
    text = card(folder)
    atomic_write(Path(folder) / CARD, lambda p: p.write_text(text, encoding="utf-8"))
