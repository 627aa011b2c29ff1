"""`genzoo list` answers from the shipped catalog, without importing torch, and the catalog says
exactly what the registries say now."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from genzoo import catalog
from genzoo.cli import main


def test_the_shipped_catalog_is_what_the_registries_render_now():
    """Rendered in a fresh process: the tests' own models (conftest.py) are not genzoo's."""
    shipped = json.loads(catalog.CATALOG.read_text(encoding="utf-8"))["pages"]
    code = "import json, genzoo.catalog as c\nprint(json.dumps(c.render_all()))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    live = json.loads(done.stdout)
    stale = sorted(k for k in shipped.keys() | live.keys() if shipped.get(k) != live.get(k))
    assert not stale, (
        f"catalog.json is out of date for {stale[:5]}: rewrite it with `python -m genzoo.catalog`"
    )
    from genzoo.data import DATASETS
    from genzoo.models import MODELS

    assert {"all", "models", "datasets", "metrics", "models vae", "datasets facies"} <= shipped.keys()
    assert len(shipped) == 4 + len([n for n in MODELS.names() if n != "noisy-mean"]) + len(DATASETS.names())


@pytest.mark.parametrize(
    "argv", [["list"], ["list", "models", "vae"], ["list", "datasets", "mnist"], ["list", "metrics"]]
)
def test_list_does_not_import_torch(argv):
    """Importing torch takes over a second: `genzoo list` took 1.3 s, it takes about 0.05 s
    (BENCHMARKS.md)."""
    code = (
        "import sys, genzoo.cli as c\n"
        f"assert c.main({argv!r}) == 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == catalog.lookup(
        argv[1] if len(argv) > 1 else "all", argv[2] if len(argv) > 2 else None
    )


def test_without_the_catalog_list_renders_from_the_registries(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(catalog, "CATALOG", tmp_path / "missing.json")
    assert catalog.lookup("models", "vae") is None
    assert main(["list", "models", "vae"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("vae: ") and "model.latent_dim=" in out


def test_write_goes_through_a_temporary_name_and_round_trips(tmp_path, monkeypatch):
    path = tmp_path / "catalog.json"
    catalog.write(path)
    assert [p.name for p in tmp_path.iterdir()] == ["catalog.json"]
    monkeypatch.setattr(catalog, "CATALOG", path)
    assert catalog.lookup("models", "rbm") == catalog.render("models", "rbm")
    assert catalog.lookup("datasets", "npz:x.npz") is None  # a path prefix is rendered, not shipped


def test_the_shipped_sampling_options_are_what_the_families_declare_now():
    """The command line makes its sampling flags from the shipped options, so they must be current."""
    shipped = json.loads(catalog.CATALOG.read_text(encoding="utf-8"))["options"]
    code = "import json, genzoo.catalog as c\nprint(json.dumps(c.render_options(), sort_keys=True))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert shipped == json.loads(done.stdout), (
        "catalog.json is out of date: rewrite it with `python -m genzoo.catalog`"
    )
    assert set(shipped["sample"]) == {"steps", "sampler", "eta", "guidance", "size", "code", "continuous"}
    assert set(shipped["inpaint"]["steps"]["help"]) == {"ddpm", "rbm"}
