"""The command line end to end on tiny data, and every bad input's one-line error."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import genzoo
from genzoo.cli import main
from genzoo.errors import GenzooError
from genzoo.training import checkpoint as ckpt

FAST = ["--quiet", "--set", "train.batch_size=64"]


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    """A VAE trained for a few steps on a small slice of mnist (module-scoped: shared by tests)."""
    out = tmp_path_factory.mktemp("runs") / "vae"
    code = main(
        [
            "train",
            "vae",
            "--data",
            "digits",
            "--steps",
            "30",
            "--out",
            str(out),
            "--set",
            "model.latent_dim=4",
            "--set",
            "model.hidden=32",
            "--set",
            "data.binarize=dynamic",
            *FAST,
        ]
    )
    assert code == 0
    return out


def test_list(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    for name in ("kde", "vae", "mnist", "ring8", "folder:PATH", "nll"):
        assert name in out
    code, out, _ = run_cli(capsys, "list", "models")
    assert "vae" in out and "mnist" not in out


def test_train_writes_the_run_directory(vae_run):
    for name in (ckpt.CONFIG, ckpt.WEIGHTS, ckpt.STATE, ckpt.LOG, ckpt.SAMPLES):
        assert (vae_run / name).is_file(), name
    cfg = json.loads((vae_run / ckpt.CONFIG).read_text())
    assert cfg["model"]["name"] == "vae" and cfg["model"]["params"]["latent_dim"] == 4
    assert cfg["data"]["name"] == "digits" and cfg["train"]["steps"] == 30 and cfg["train"]["seed"] == 0
    assert cfg["data_info"]["shape"] == [1, 8, 8]


def test_sample_png_npy_npz(vae_run, tmp_path, capsys):
    for suffix in ("png", "npy", "npz"):
        code, _, err = run_cli(
            capsys, "sample", str(vae_run), "-n", "9", "--out", str(tmp_path / f"s.{suffix}"), "--seed", "1"
        )
        assert code == 0, err
    x = np.load(tmp_path / "s.npy", allow_pickle=False)
    assert x.shape == (9, 1, 8, 8)
    z = np.load(tmp_path / "s.npz", allow_pickle=False)
    np.testing.assert_array_equal(z["x"], x)
    Image.open(tmp_path / "s.png").verify()
    run_cli(capsys, "sample", str(vae_run), "-n", "9", "--out", str(tmp_path / "t.npy"), "--seed", "1")
    np.testing.assert_array_equal(np.load(tmp_path / "t.npy"), x)  # seeded: repeatable


def test_evaluate_interpolate_report(vae_run, tmp_path, capsys):
    code, out, err = run_cli(capsys, "evaluate", str(vae_run), "--n", "50")
    assert code == 0, err
    metrics = json.loads((vae_run / ckpt.METRICS).read_text())
    assert metrics["n"] == 50 and metrics["split"] == "test"
    assert metrics["metrics"]["nll"]["kind"] == "estimate" and metrics["metrics"]["nll"]["nats"] > 0
    assert "nll" in out and "bits_per_dim" in out
    code, _, err = run_cli(capsys, "interpolate", str(vae_run), "--out", str(tmp_path / "i.png"))
    assert code == 0, err
    Image.open(tmp_path / "i.png").verify()
    code, out, err = run_cli(capsys, "report", str(vae_run))
    assert code == 0, err
    html = (vae_run / "report.html").read_text()
    assert "vae" in html and "data:image/png;base64," in html


def test_resume_continues_to_the_steps_now_given(vae_run, tmp_path, capsys):
    out = tmp_path / "r"
    base = [
        "train",
        "vae",
        "--data",
        "digits",
        "--out",
        str(out),
        "--set",
        "model.latent_dim=4",
        "--set",
        "model.hidden=32",
        "--set",
        "data.binarize=dynamic",
        *FAST,
    ]
    assert main([*base, "--steps", "10"]) == 0
    assert main(["train", "vae", "--out", str(out), "--steps", "30", "--resume", "--quiet"]) == 0
    a = ckpt.read_weights(out / ckpt.WEIGHTS)
    b = ckpt.read_weights(vae_run / ckpt.WEIGHTS)
    assert all((a[k] == b[k]).all() for k in a)  # 10 then 20 more == 30 straight (the module fixture)
    steps = [r["step"] for r in ckpt.read_log(out)]
    assert steps == sorted(set(steps)) and steps[-1] == 30
    capsys.readouterr()


def test_metric_that_cannot_apply_is_skipped_or_refused(tmp_path, capsys):
    """A Gaussian decoder's density on binarised digits is no probability of them: the default
    suite records why and goes on; asking for nll by name is a one-line error."""
    out = tmp_path / "gauss"
    assert (
        main(
            [
                "train",
                "vae",
                "--data",
                "digits",
                "--steps",
                "2",
                "--out",
                str(out),
                "--set",
                "model.hidden=8",
                "--set",
                "likelihood=gaussian",
                "--set",
                "data.binarize=static",
                *FAST,
            ]
        )
        == 0
    )
    code, _, err = run_cli(capsys, "evaluate", str(out), "--n", "20")
    assert code == 0, err
    result = json.loads((out / ckpt.METRICS).read_text())["metrics"]
    assert "binary" in result["nll"]["skipped"] and result["recon"]["mse_per_dim"] > 0
    code, _, err = run_cli(capsys, "evaluate", str(out), "--n", "20", "--metrics", "nll")
    assert code == 2 and "metric 'nll'" in err


def test_bernoulli_vae_on_grey_images_reports_its_likelihood(tmp_path, capsys):
    """A Bernoulli decoder trained on grey digits models their stochastic binarisations (its
    cross-entropy is their expected log-likelihood): evaluate scores one fixed such draw of the
    held-out images, says so, and gives what log_prob gives on it in Python."""
    out = tmp_path / "grey"
    assert (
        main(
            [
                "train",
                "vae",
                "--data",
                "digits",
                "--steps",
                "2",
                "--out",
                str(out),
                "--set",
                "model.hidden=8",
                *FAST,
            ]
        )
        == 0
    )
    code, _, err = run_cli(capsys, "evaluate", str(out), "-n", "20", "--metrics", "nll")
    assert code == 0, err
    nll = json.loads((out / ckpt.METRICS).read_text())["metrics"]["nll"]
    assert "binarisation" in nll["scored_on"] and nll["kind"] == "estimate" and nll["nats"] > 0
    model = genzoo.load(out)
    test = genzoo.datasets.load("digits", split="test")
    with pytest.raises(GenzooError, match=r"grey values.*genzoo.datasets.binarize"):
        model.log_prob(test.x[:5])
    x = genzoo.datasets.binarize(test.x[:20])
    assert set(x.unique().tolist()) <= {0.0, 1.0}
    logp = model.log_prob(x, k=200, generator=torch.Generator().manual_seed(0))
    assert abs(float(-logp.mean()) - nll["nats"]) < 5 * max(nll["std_err_nats"], 1.0)


def test_kde_on_points(tmp_path, capsys):
    out = tmp_path / "kde"
    code, _, err = run_cli(
        capsys, "train", "kde", "--data", "ring8", "--out", str(out), "--set", "data.n=400", "--quiet"
    )
    assert code == 0, err
    code, out_text, err = run_cli(capsys, "evaluate", str(out), "--metrics", "nll")
    assert code == 0, err
    assert json.loads((out / ckpt.METRICS).read_text())["metrics"]["nll"]["kind"] == "exact"
    code, _, err = run_cli(capsys, "interpolate", str(out), "--out", str(tmp_path / "i.png"))
    assert code == 2 and "latent" in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["train", "vea"], "unknown model 'vea'; did you mean 'vae'"),
        (["train", "vae", "--data", "mnits"], "did you mean 'mnist'"),
        (
            ["train", "vae", "--data", "digits", "--set", "model.latent_dims=3"],
            "did you mean 'model.latent_dim'",
        ),
        (
            ["train", "vae", "--data", "digits", "--set", "model.latent_dim=abc"],
            "model.latent_dim: expected int >= 1",
        ),
        (["train", "vae", "--data", "digits", "--set", "model.latent_dim=0"], "model.latent_dim"),
        (["train", "vae", "--data", "digits", "--set", "train.lr=-3"], "train.lr"),
        (
            ["train", "vae", "--data", "digits", "--set", "data.binarize=maybe"],
            "data.binarize: expected one of none, static, dynamic",
        ),
        (["train", "vae", "--data", "digits", "--set", "nokey"], "--set expects key=value"),
        (["train", "vae", "--data", "digits", "--set", "optim.lr=1"], "unknown section 'optim'"),
        (["train", "vae", "--data", "folder:/no/such/folder"], "/no/such/folder"),
        (["train", "vae", "--data", "digits", "--config", "/no/such.toml"], "config file not found"),
        (["sample", "/no/such/run", "-n", "4", "--out", "x.png"], "run directory not found"),
        (["evaluate", "/no/such/run"], "run directory not found"),
        (["report", "/no/such/run"], "run directory not found"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genzoo: error:"), err
    assert needle in lines[0], lines[0]
    assert "Traceback" not in err
    assert not list(tmp_path.rglob("*.tmp"))


def test_not_a_run_and_mismatched_checkpoint(vae_run, tmp_path, capsys):
    code, _, err = run_cli(capsys, "sample", str(tmp_path), "-n", "2", "--out", str(tmp_path / "x.png"))
    assert code == 2 and "not a genzoo run" in err
    bad = tmp_path / "bad"
    bad.mkdir()
    cfg = json.loads((vae_run / ckpt.CONFIG).read_text())
    cfg["model"]["params"]["latent_dim"] = 7
    (bad / ckpt.CONFIG).write_text(json.dumps(cfg))
    (bad / ckpt.WEIGHTS).write_bytes((vae_run / ckpt.WEIGHTS).read_bytes())
    code, _, err = run_cli(capsys, "sample", str(bad), "-n", "2", "--out", str(tmp_path / "x.png"))
    assert code == 2 and "does not match" in err
    (bad / ckpt.WEIGHTS).write_bytes(b"garbage")
    code, _, err = run_cli(capsys, "sample", str(bad), "-n", "2", "--out", str(tmp_path / "x.png"))
    assert code == 2 and "safetensors" in err
    assert not (tmp_path / "x.png").exists()


def test_sample_bad_suffix_and_label(vae_run, tmp_path, capsys):
    code, _, err = run_cli(capsys, "sample", str(vae_run), "-n", "2", "--out", str(tmp_path / "x.gif"))
    assert code == 2 and ".gif" in err
    code, _, err = run_cli(
        capsys, "sample", str(vae_run), "-n", "2", "--out", str(tmp_path / "x.png"), "--label", "3"
    )
    assert code == 2 and "not conditional" in err
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "x.gif").exists()


def test_existing_run_is_not_overwritten(vae_run, capsys):
    code, _, err = run_cli(
        capsys, "train", "vae", "--data", "digits", "--out", str(vae_run), "--steps", "1", "--quiet"
    )
    assert code == 2 and "--resume" in err


def test_toml_config(tmp_path, capsys):
    toml = tmp_path / "c.toml"
    toml.write_text(
        '[model]\nlatent_dim = 3\nhidden = [16]\n[data]\nname = "digits"\n'
        "[train]\nsteps = 5\nbatch_size = 32\n"
    )
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "vae", "--config", str(toml), "--out", str(out), "--quiet")
    assert code == 0, err
    cfg = json.loads((out / ckpt.CONFIG).read_text())
    assert (
        cfg["model"]["params"]["latent_dim"] == 3
        and cfg["train"]["steps"] == 5
        and cfg["data"]["name"] == "digits"
    )
    toml.write_text("[model]\nlatent_dim = 'x'\n")
    code, _, err = run_cli(
        capsys, "train", "vae", "--config", str(toml), "--out", str(tmp_path / "r2"), "--quiet"
    )
    assert code == 2 and "model.latent_dim" in err


def test_console_script_exit_codes(tmp_path):
    """The installed entry point: exit 2 and one line, no traceback, for a bad model name."""
    proc = subprocess.run(
        [sys.executable, "-m", "genzoo.cli", "train", "nosuchmodel"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "unknown model" in proc.stderr


def test_encode_score_denoise(vae_run, tmp_path, capsys):
    code, out, err = run_cli(capsys, "encode", str(vae_run), "--out", str(tmp_path / "codes.npz"))
    assert code == 0, err
    z = np.load(tmp_path / "codes.npz", allow_pickle=False)
    assert z["codes"].shape == (359, 4) and z["y"].shape == (359,)
    x = (np.random.default_rng(0).random((10, 1, 8, 8)) > 0.5).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    code, out, err = run_cli(
        capsys, "encode", str(vae_run), "--input", str(tmp_path / "x.npy"), "--out", str(tmp_path / "c2.npz")
    )
    assert code == 0 and np.load(tmp_path / "c2.npz")["codes"].shape == (10, 4)
    code, out, err = run_cli(
        capsys, "score", str(vae_run), "--input", str(tmp_path / "x.npy"), "--out", str(tmp_path / "s.npz")
    )
    assert code == 0 and "anomaly scores of 10 examples" in out
    assert np.load(tmp_path / "s.npz")["scores"].shape == (10,)
    code, out, err = run_cli(
        capsys, "denoise", str(vae_run), "--input", str(tmp_path / "x.npy"), "--out", str(tmp_path / "d.npz")
    )
    assert code == 0 and "was not trained to denoise" in err
    assert np.load(tmp_path / "d.npz")["x"].shape == (10, 1, 8, 8)
    np.save(tmp_path / "bad.npy", np.zeros((3, 5), dtype=np.float32))
    code, _, err = run_cli(capsys, "score", str(vae_run), "--input", str(tmp_path / "bad.npy"))
    assert code == 2 and "the model takes (1, 8, 8)" in err
    code, _, err = run_cli(capsys, "encode", str(vae_run), "--out", str(tmp_path / "codes.csv"))
    assert code == 2 and ".csv" in err


def test_encode_and_score_refused_without_an_encoder_or_likelihood(tmp_path, capsys):
    out = tmp_path / "kde"
    assert (
        main(["train", "kde", "--data", "swissroll", "--out", str(out), "--set", "data.n=200", "--quiet"])
        == 0
    )
    code, _, err = run_cli(capsys, "encode", str(out), "--out", str(tmp_path / "c.npz"))
    assert code == 2 and "has no encoder" in err
    np.save(tmp_path / "p.npy", np.zeros((4, 2), dtype=np.float32))
    code, out_text, err = run_cli(capsys, "score", str(out), "--input", str(tmp_path / "p.npy"))
    assert code == 0, err  # a KDE scores by its exact negative log-density
    code, _, err = run_cli(
        capsys, "denoise", str(out), "--input", str(tmp_path / "p.npy"), "--out", str(tmp_path / "d.npz")
    )
    assert code == 2 and "no encoder" in err


def test_gan_run_reports_and_refuses_encoding(tmp_path, capsys):
    """A GAN has a latent space but no encoder: it interpolates and reports, encode is refused."""
    out = tmp_path / "gan"
    assert (
        main(
            [
                "train",
                "gan",
                "--data",
                "ring8",
                "--steps",
                "20",
                "--out",
                str(out),
                "--set",
                "data.n=300",
                "--quiet",
            ]
        )
        == 0
    )
    code, _, err = run_cli(capsys, "interpolate", str(out), "--out", str(tmp_path / "i.png"))
    assert code == 0, err
    code, _, err = run_cli(capsys, "report", str(out))
    assert code == 0, err
    assert "has no encoder" in (out / "report.html").read_text()
    code, _, err = run_cli(capsys, "encode", str(out), "--out", str(tmp_path / "c.npz"))
    assert code == 2 and "has no encoder" in err
    code, _, err = run_cli(capsys, "evaluate", str(out), "--metrics", "recon")
    assert code == 2 and "does not apply" in err


def test_resume_with_the_command_that_made_the_run(vae_run, tmp_path, capsys):
    """Repeating the command that made a run, with a larger --steps and --resume, continues it (the
    README's example); an option that differs from the saved one is refused naming the key, the
    saved value and the new one."""
    out = tmp_path / "again"
    base = [
        "train",
        "vae",
        "--data",
        "digits",
        "--out",
        str(out),
        "--set",
        "model.latent_dim=4",
        "--set",
        "model.hidden=32",
        "--set",
        "data.binarize=dynamic",
        *FAST,
    ]
    assert main([*base, "--steps", "10"]) == 0
    code, _, err = run_cli(capsys, *base, "--steps", "30", "--resume")
    assert code == 0, err
    a, b = ckpt.read_weights(out / ckpt.WEIGHTS), ckpt.read_weights(vae_run / ckpt.WEIGHTS)
    assert all(torch.equal(a[k], b[k]) for k in a)  # the same as 30 steps straight
    for change, key, saved, new in (
        (["--set", "model.latent_dim=5"], "model.latent_dim", "4", "5"),
        (["--set", "hidden=32,16"], "model.hidden", "32", "32,16"),
        (["--set", "data.binarize=static"], "data.binarize", "dynamic", "static"),
        (["--data", "mnist"], "--data", "digits", "mnist"),
    ):
        code, _, err = run_cli(capsys, *base, *change, "--steps", "40", "--resume")
        assert code == 2 and f"{key} is {saved} in the saved run, {new} now" in err, err
        assert len(err.strip().splitlines()) == 1
    code, _, err = run_cli(capsys, *base, "--set", "model.latent_dim=four", "--steps", "40", "--resume")
    assert code == 2 and "model.latent_dim: expected int" in err


def test_values_are_checked_before_the_run_directory(vae_run, capsys):
    """A bad value is named before anything else (it used to say 'already holds a run' first)."""
    code, _, err = run_cli(capsys, "train", "vae", "--data", "digits", "--out", str(vae_run), "--steps", "-5")
    assert code == 2 and "train.steps" in err and "-5" in err and "already holds" not in err
    code, _, err = run_cli(capsys, "train", "vae", "--out", str(vae_run), "--set", "train.lr=-1", "--resume")
    assert code == 2 and "train.lr" in err


def test_default_data_is_the_familys_own(tmp_path, capsys, monkeypatch):
    """Without --data a family trains on its own data (the Gaussian simulators on grf, not mnist)."""
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, "train", "fft", "--quiet")
    assert code == 0, err
    cfg = json.loads((tmp_path / "runs" / "fft-grf" / ckpt.CONFIG).read_text())
    assert cfg["data"]["name"] == "grf"


def test_list_models_name_shows_every_option(capsys):
    from genzoo.config import describe_fields
    from genzoo.models import MODELS
    from genzoo.training.trainer import TrainConfig

    code, out, _ = run_cli(capsys, "list", "models", "vae")
    assert code == 0
    for name, *_ in describe_fields(MODELS.get("vae").Config):
        assert f"model.{name}=" in out
    for name, *_ in describe_fields(TrainConfig):
        assert f"train.{name}=" in out
    assert (
        "model.latent_dim=20\n      int >= 1. size of z" in out
        and "default data: mnist --set data.binarize=dynamic" in out
    )
    code, out, _ = run_cli(capsys, "list", "datasets", "facies")
    assert code == 0 and "data.proportions=0.7,0.3" in out
    code, _, err = run_cli(capsys, "list", "models", "vea")
    assert code == 2 and "vae" in err
    code, _, err = run_cli(capsys, "list", "metrics", "fd")
    assert code == 2


def test_help_does_not_import_torch():
    """`genzoo --help` and argument errors answer before torch (1.8 s to import) is loaded."""
    code = (
        "import sys, genzoo.cli as c\n"
        "try:\n    c.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "train" in done.stdout


@pytest.mark.slow
def test_every_family_with_a_likelihood_reports_it_with_its_defaults(tmp_path, capsys):
    """`genzoo train NAME` with no options, then `genzoo evaluate RUN --metrics nll`: every family
    that has a likelihood reports it on its own default data (a Bernoulli VAE on grey digits used to
    refuse, kde and the field simulators did not train on the default mnist). The RBM's AIS runs
    500 temperatures, not its 10,000 (18 s of evaluate alone; the estimate's kind is the same)."""
    from genzoo.models import MODELS

    names = [n for n in MODELS.names() if MODELS.get(n).likelihood]
    assert {"vae", "kde", "pixelcnn", "rbm", "ddpm", "fft"} <= set(names)
    for name in names:
        run = tmp_path / name
        fewer = ["--set", "model.ais_betas=500"] if name == "rbm" else []
        code, _, err = run_cli(
            capsys,
            "train",
            name,
            "--steps",
            "2",
            "--out",
            str(run),
            "--quiet",
            "--set",
            "train.sample_grid=false",
            *fewer,
        )
        assert code == 0, f"{name}: {err}"
        code, _, err = run_cli(capsys, "evaluate", str(run), "--metrics", "nll", "-n", "20")
        assert code == 0, f"{name}: {err}"
        nll = json.loads((run / ckpt.METRICS).read_text())["metrics"]["nll"]
        assert math.isfinite(nll["nats"]) and nll["kind"] == MODELS.get(name).likelihood, (name, nll)
