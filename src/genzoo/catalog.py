"""What `genzoo list` prints: the families, datasets and metrics, and every option of each with
its default, type, range and help; and the sampling options the families declare, from which the
command line makes its flags (`genzoo sample --steps`).

It is rendered from the registries (which import torch: over a second) and shipped, rendered, as
catalog.json, so that listing takes about 0.05 s. tests/test_catalog.py checks that the
shipped file equals what the registries render now; after changing a family, a dataset, a metric
or an option, rewrite it with

    python -m genzoo.catalog
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from genzoo.config import shown_default, shown_value

CATALOG = Path(__file__).with_name("catalog.json")
LISTS = ("all", "models", "datasets", "metrics")


def default_data(model: str) -> tuple[str, dict[str, Any]]:
    """The data `genzoo train MODEL` uses without --data: the family's own (its `default_data`, else
    the first of its tour entries with its options: mnist binarised for the Bernoulli families, grf
    for the Gaussian simulators, ...), else mnist."""
    from genzoo.models import MODELS

    cls = MODELS.get(model)
    if cls.default_data is not None:
        return cls.default_data[0], dict(cls.default_data[1])
    return (cls.tour[0].data, dict(cls.tour[0].data_options)) if cls.tour else ("mnist", {})


# --- rendering from the registries ------------------------------------------------------------
def render_list(what: str) -> str:
    """`genzoo list [models|datasets|metrics]`."""
    from genzoo.data import DATASETS, PREFIXES
    from genzoo.metrics import METRICS
    from genzoo.models import MODELS

    lines = []
    if what in ("models", "all"):
        lines.append("models:")
        for name in MODELS.names():
            cls = MODELS.get(name)
            lik = f"  [likelihood: {cls.likelihood}]" if cls.likelihood else ""
            lines.append(f"  {name:<14} {cls.summary}{lik}")
        if what == "models":
            lines += ["", *ability_table()]
    if what in ("datasets", "all"):
        lines.append("datasets:")
        lines += [f"  {name:<14} {DATASETS.get(name).summary}" for name in DATASETS.names()]
        lines += [f"  {name + ':PATH':<14} {spec.summary}" for name, spec in sorted(PREFIXES.items())]
    if what in ("metrics", "all"):
        lines.append("metrics:")
        lines += [f"  {name:<14} {METRICS.get(name).summary}" for name in METRICS.names()]
    return "\n".join(lines)


def _option_rows(cls: type, section: str) -> list[str]:
    """One line per option of a config dataclass: key=default, its type and range, its help."""
    from genzoo.config import describe_fields

    rows = []
    for name, default, allowed, help_text in describe_fields(cls):
        rows.append(f"  {section}.{name}={shown_default(default, allowed)}")
        rows.append(f"      {allowed}{'. ' + help_text if help_text else ''}")
    return rows


def _flag_rows(cls: type) -> list[str]:
    """One line per declared sampling option: --key, its type and range, its help."""
    from genzoo.config import describe_fields

    return [
        f"  --{name:<12} {allowed.replace(' (or none)', '')}. {help_text}"
        for name, _, allowed, help_text in describe_fields(cls)
    ]


def ability_marks(cls: type) -> list[str]:
    """A model's row of the ability table, one mark per ability of genzoo.models.base.ABILITIES: ✓
    where the model has it, the likelihood's kind in its column, · where it has not."""
    from genzoo.models.base import ABILITIES, abilities

    has = set(abilities(cls))
    return [(cls.likelihood if key == "likelihood" else "✓") if key in has else "·" for key in ABILITIES]


def ability_names(cls: type) -> list[str]:
    """What a model can do beyond sampling, in words: "likelihood (exact)", "latent space", ..."""
    from genzoo.models.base import ABILITIES, abilities

    return [
        f"likelihood ({cls.likelihood})" if key == "likelihood" else ABILITIES[key][0]
        for key in abilities(cls)
    ]


def ability_table() -> list[str]:
    """`genzoo list models`' table of model × ability (the declarations of genzoo.models.base.ABILITIES):
    a column per ability, ✓ where the model has it, the likelihood's kind in its column."""
    from genzoo.models import MODELS
    from genzoo.models.base import ABILITIES

    heads = [label for label, _ in ABILITIES.values()]
    rows = [[name, *ability_marks(MODELS.get(name))] for name in MODELS.names()]
    widths = [max(len(r[i]) for r in [["model", *heads], *rows]) for i in range(len(heads) + 1)]
    fmt = lambda r: "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return ["abilities:", fmt(["model", *heads]), *[fmt(r) for r in rows]]


def render_model(name: str) -> str:
    """`genzoo list models NAME`: what the family is, its abilities, and every option with its default."""
    from genzoo.models import MODELS
    from genzoo.training.trainer import TrainConfig

    cls = MODELS.get(name)
    data, options = default_data(name)
    abilities = ability_names(cls)
    lines = [
        f"{name}: {cls.summary}",
        f"  models {', '.join(cls.kinds)} data; default data: {data}"
        f"{''.join(f' --set data.{k}={v}' for k, v in options.items())}",
        f"  abilities: {', '.join(abilities) or 'sampling'}",
        "",
        "model options (--set model.KEY=VALUE, or KEY=VALUE):",
    ]
    lines += _option_rows(cls.Config, "model")
    for method, options in (("sample", cls.SampleOptions), ("condition --mask", cls.InpaintOptions)):
        if options is not None:
            lines += ["", f"options of genzoo {method} (default: the model's own):", *_flag_rows(options)]
    defaults = ", ".join(f"{k}={shown_value(v)}" for k, v in cls.default_train.items())
    lines += ["", f"training options (--set train.KEY=VALUE; {name}'s own defaults: {defaults or 'none'}):"]
    lines += _option_rows(TrainConfig, "train")
    return "\n".join(lines)


def render_dataset(name: str) -> str:
    """`genzoo list datasets NAME`: the dataset and its options."""
    from genzoo.data.registry import resolve

    spec, _ = resolve(name)
    return "\n".join(
        [
            f"{name}: {spec.summary}",
            "",
            "options (--set data.KEY=VALUE):",
            *_option_rows(spec.options, "data"),
        ]
    )


def render(what: str, name: str | None = None) -> str:
    """What `genzoo list WHAT [NAME]` prints, from the registries."""
    if name is None:
        return render_list(what)
    return render_model(name) if what == "models" else render_dataset(name)


def render_all() -> dict[str, str]:
    """Every page of the catalog, keyed as `lookup` keys them."""
    from genzoo.data import DATASETS
    from genzoo.models import MODELS

    pages = {_key(what): render(what) for what in LISTS}
    pages.update({_key("models", name): render("models", name) for name in MODELS.names()})
    pages.update({_key("datasets", name): render("datasets", name) for name in DATASETS.names()})
    return pages


METHODS = ("sample", "inpaint")


def render_options() -> dict[str, dict[str, dict[str, Any]]]:
    """{method: {option: {"type", "choices", "help": {model: help}, "missing": {model: words}}}}
    for the options the families declare for sample() and inpaint() (their SampleOptions and
    InpaintOptions), in the registry's order; "type" is int, float, str or floats."""
    import typing

    from genzoo.models import MODELS
    from genzoo.models.base import declared_options, options_class

    out: dict[str, dict[str, dict[str, Any]]] = {}
    for method in METHODS:
        table = out.setdefault(method, {})
        for name in MODELS.names():
            cls = MODELS.get(name)
            for key, f in declared_options(cls, method).items():
                holder = options_class(cls, method)
                tp = next(
                    a for a in typing.get_args(typing.get_type_hints(holder)[key]) if a is not type(None)
                )
                kind = "floats" if typing.get_origin(tp) is tuple else tp.__name__
                row = table.setdefault(
                    key, {"type": kind, "choices": f.metadata["choices"], "help": {}, "missing": {}}
                )
                if (row["type"], row["choices"]) != (kind, f.metadata["choices"]):
                    raise TypeError(
                        f"{name}.{method}: option {key!r} is declared with another type or choices elsewhere"
                    )
                row["help"][name] = f.metadata["help"]
                row["missing"][name] = f.metadata["missing"]
    return out


def options() -> dict[str, dict[str, dict[str, Any]]]:
    """The shipped sampling options (render_options), else rendered from the registries."""
    try:
        shipped = json.loads(CATALOG.read_text(encoding="utf-8"))["options"]
    except (OSError, ValueError, KeyError, TypeError):
        return render_options()
    return shipped if isinstance(shipped, dict) else render_options()


def _key(what: str, name: str | None = None) -> str:
    return what if name is None else f"{what} {name}"


# --- the shipped catalog -----------------------------------------------------------------------
def lookup(what: str, name: str | None = None) -> str | None:
    """The shipped page for `genzoo list WHAT [NAME]`, or None (no catalog, or a name it does not
    hold: the caller renders from the registries, which also words the error for a wrong name)."""
    try:
        pages = json.loads(CATALOG.read_text(encoding="utf-8"))["pages"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    page = pages.get(_key(what, name))
    return page if isinstance(page, str) else None


def text(what: str, name: str | None = None) -> str:
    """What `genzoo list WHAT [NAME]` prints: the shipped page, else rendered."""
    page = lookup(what, name)
    return page if page is not None else render(what, name)


def write(path: Path = CATALOG) -> None:
    """Render every page and write catalog.json (through a temporary name)."""
    from genzoo.atomic import atomic_write

    about = (
        "rendered by `python -m genzoo.catalog`; what `genzoo list` prints, "
        "and the sampling options of the command line"
    )
    body = (
        json.dumps(
            {"about": about, "pages": render_all(), "options": render_options()},
            indent=1,
            ensure_ascii=False,
            sort_keys=True,
        )
        + "\n"
    )
    atomic_write(path, lambda tmp: tmp.write_text(body, encoding="utf-8"))


if __name__ == "__main__":
    write()
    print(f"wrote {CATALOG}")
