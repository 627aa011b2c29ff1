"""Continuing a saved run (`genzoo train MODEL --resume --out DIR`): the run fixes its model and
its data; options given again must equal the saved ones, so that repeating the command that made
the run with a larger --steps works, and a differing one is refused in one line naming the key, the
saved value and the new one. Training options (the length, the rate, ...) may change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genzoo.config import shown_value as shown
from genzoo.errors import GenzooError


def check_same(what: str, saved: dict[str, Any], given: dict[str, Any]) -> None:
    """Every option given again must equal the saved one (tuples and JSON lists alike)."""
    for key, value in given.items():
        old = saved.get(key)
        if _jsonish(value) != _jsonish(old):
            raise GenzooError(
                f"--resume: {what}.{key} is {shown(old)} in the saved run, {shown(value)} now; "
                "a run continues with its own model and data "
                "(start a new run with another --out to change it)"
            )


def _jsonish(value: Any) -> Any:
    return [_jsonish(v) for v in value] if isinstance(value, (list, tuple)) else value


def run_data(config: dict[str, Any], split: str) -> Any:
    """The dataset a saved run was trained on (its config's name and options), split `split`."""
    from genzoo.data import load

    data = config.get("data") or {}
    if not data.get("options") and data.get("options") is not None:
        data["options"] = {}
    if data.get("options") is None:
        raise GenzooError(
            f"the run was trained on in-memory data ({data.get('name')!r}); "
            "evaluate it from Python with genzoo.evaluate"
        )
    return load(data["name"], split=split, **data["options"])


def saved_run(
    out: str | Path,
    model: str,
    *,
    data: str | None = None,
    data_options: dict[str, Any] | None = None,
    model_options: dict[str, Any] | None = None,
) -> tuple[Any, Any, dict[str, Any]]:
    """(training data, model built from the saved config, the saved config) of the run in `out`,
    after checking that `model`, `data` and the options given again are the saved ones."""
    from genzoo.config import build, to_dict
    from genzoo.data import resolved_options
    from genzoo.models import MODELS, create
    from genzoo.training import checkpoint as ckpt

    cfg = ckpt.read_config(out)
    if cfg["model"]["name"] != model:
        raise GenzooError(f"--resume: {out} holds a {cfg['model']['name']!r} run, not {model!r}")
    data_cfg = cfg.get("data") or {}
    if data is not None and data != data_cfg.get("name"):
        raise GenzooError(
            f"--resume: --data is {data_cfg.get('name')} in the saved run, {data} now; "
            "a run continues with its own data"
        )
    if data_options:
        if data_cfg.get("options") is None:
            raise GenzooError(
                "--resume: the run was trained on in-memory data; its data options cannot be given again"
            )
        full = resolved_options(data_cfg["name"], **data_options)  # checks and converts the values given
        check_same("data", data_cfg["options"], {k: full[k] for k in data_options})
    if model_options:
        config = to_dict(build(MODELS.get(model).Config, model_options, section="model"))
        check_same("model", cfg["model"]["params"], {k: config[k] for k in model_options})
    train_data = run_data(cfg, "train")
    return train_data, create(model, train_data, **cfg["model"]["params"]), cfg


def train_options(saved: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The saved training options with those given now on top; a length given now (steps or
    epochs) replaces the saved length, whichever way that was given."""
    saved = dict(saved)
    if "steps" in given or "epochs" in given:
        saved.pop("steps", None)
        saved.pop("epochs", None)
    return {k: v for k, v in {**saved, **given}.items() if v is not None}
