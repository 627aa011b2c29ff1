"""Data-parallel training with torchrun: two CPU processes on the gloo backend on localhost end
with identical weights, equal (to float tolerance) to one process with the doubled batch, for a
deterministic model; the adversarial (two optimisers) and RBM (hand-made gradients) steps keep
the ranks identical too (the RBM's persistent chains, per rank, excepted). Evaluation under
torchrun splits the samples and the likelihood chunks over the ranks and writes the metrics of
one process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
import torch
from safetensors.torch import load_file

import genzoo
from genzoo.cli import main
from genzoo.distributed import map_split
from genzoo.errors import GenzooError

SCRIPT = textwrap.dedent(
    """
    import os, sys, torch, genzoo
    from safetensors.torch import save_file
    torch.set_num_threads(1)
    out, rank = sys.argv[1], int(os.environ["RANK"])
    digits = genzoo.datasets.load("digits", split="train")
    binary = genzoo.datasets.load("digits", split="train", binarize="static")
    jobs = [("ae", digits, {}), ("gan", digits, {"arch": "mlp", "hidden": (32,)}),
            ("rbm", binary, {"hidden": 16})]
    for name, data, params in jobs:
        model = genzoo.models.create(name, data, seed=0, **params)
        run = genzoo.train(model, data, steps=12, batch_size=16, seed=0, device="cpu", lr=1e-3,
                           progress=False, sample_grid=False, checkpoint_every=5, out=f"{out}/{name}")
        state = {k: v.detach().contiguous() for k, v in run.model.state_dict().items()}
        save_file(state, f"{out}/{name}-rank{rank}.safetensors")
    # stopped at step 6 and resumed to 12 (vae: model noise per rank, so each rank's RNG state matters)
    for steps, resume in ((6, False), (12, True)):
        model = genzoo.models.create("vae", digits, seed=0)
        run = genzoo.train(model, digits, steps=steps, batch_size=16, seed=0, device="cpu", progress=False,
                           sample_grid=False, out=f"{out}/vae-resumed", resume=resume)
    model = genzoo.models.create("vae", digits, seed=0)
    straight = genzoo.train(model, digits, steps=12, batch_size=16, seed=0, device="cpu", progress=False,
                            sample_grid=False, out=f"{out}/vae-straight")
    for tag, r in (("resumed", run), ("straight", straight)):
        save_file({k: v.detach().contiguous() for k, v in r.model.state_dict().items()},
                  f"{out}/vae-{tag}-rank{rank}.safetensors")
    """
)


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    script = out / "job.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(script),
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.mark.parametrize("name", ["ae", "gan", "rbm"])
def test_ranks_end_with_identical_weights(ddp_runs, name) -> None:
    a = load_file(ddp_runs / f"{name}-rank0.safetensors")
    b = load_file(ddp_runs / f"{name}-rank1.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        if "chains" in k:  # persistent CD: each rank keeps its own negative chains, like a larger batch
            assert not torch.equal(a[k], b[k])
            continue
        assert torch.equal(a[k], b[k]), k
    # rank 0 alone wrote the run directory, and it holds the trained weights
    saved = load_file(ddp_runs / name / "model.safetensors")
    assert all(torch.equal(saved[k], a[k]) for k in a)
    assert (ddp_runs / name / "log.jsonl").read_text().count("\n") >= 1


def test_two_processes_equal_one_with_the_doubled_batch(ddp_runs) -> None:
    data = genzoo.datasets.load("digits", split="train")
    model = genzoo.models.create("ae", data, seed=0)
    with torch.random.fork_rng(devices=[]):
        run = genzoo.train(
            model,
            data,
            steps=12,
            batch_size=32,
            seed=0,
            device="cpu",
            lr=1e-3,
            progress=False,
            sample_grid=False,
        )
    one = run.model.state_dict()
    two = load_file(ddp_runs / "ae-rank0.safetensors")
    start = genzoo.models.create("ae", data, seed=0).state_dict()
    params = [k for k, _ in run.model.named_parameters()]
    assert min(float((one[k] - start[k]).abs().max()) for k in params) > 1e-4  # every weight trained
    for k, v in one.items():
        assert torch.allclose(two[k], v, atol=1e-5, rtol=1e-4), (k, float((two[k] - v).abs().max()))
    # a different global batch (one process with the per-rank batch) ends elsewhere
    model = genzoo.models.create("ae", data, seed=0)
    with torch.random.fork_rng(devices=[]):
        half = genzoo.train(
            model,
            data,
            steps=12,
            batch_size=16,
            seed=0,
            device="cpu",
            lr=1e-3,
            progress=False,
            sample_grid=False,
        )
    assert any(
        not torch.allclose(two[k], v, atol=1e-5, rtol=1e-4) for k, v in half.model.state_dict().items()
    )


def test_a_resumed_run_equals_an_uninterrupted_one(ddp_runs) -> None:
    for rank in (0, 1):
        a = load_file(ddp_runs / f"vae-resumed-rank{rank}.safetensors")
        b = load_file(ddp_runs / f"vae-straight-rank{rank}.safetensors")
        assert all(torch.equal(a[k], b[k]) for k in a)
    state = torch.load(ddp_runs / "vae-resumed" / "train_state.pt", weights_only=True)
    assert len(state["rng_ranks"]) == 2 and not torch.equal(
        state["rng_ranks"][0]["torch"], state["rng_ranks"][1]["torch"]
    )


# --- evaluation -------------------------------------------------------------------------------
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
ENV = {
    **os.environ,
    "OMP_NUM_THREADS": "1",
}  # torchrun's default; one process must use the same threads to agree bit for bit


def _untimed(d):
    if isinstance(d, dict):
        return {k: _untimed(v) for k, v in d.items() if "seconds" not in k}
    return d


def test_map_split_in_one_process_is_a_plain_loop() -> None:
    assert map_split(lambda x: x * x, range(5)) == [0, 1, 4, 9, 16]
    assert map_split(lambda x: x, []) == []

    def fails(x):
        raise GenzooError(f"item {x}")

    with pytest.raises(GenzooError, match="item 0"):
        map_split(fails, range(3))


def test_torchrun_evaluate_equals_one_process(tmp_path) -> None:
    """kde on ring8: 1250 samples (two chunks of the sampler, one per rank) and an exact
    likelihood over ten chunks of 250 (five per rank): metrics.json is the same, bit for bit."""
    one, two = tmp_path / "one", tmp_path / "two"
    assert (
        main(["train", "kde", "--data", "ring8", "--out", str(one), "--set", "data.n=12500", "--quiet"]) == 0
    )  # 2,500 test points
    shutil.copytree(one, two)
    flags = ["--metrics", "fd,mmd,pr,dc,1nn,modes,nll"]
    proc = subprocess.run(
        [sys.executable, "-m", "genzoo", "evaluate", str(one), "--n", "2500", *flags],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # -n, not --n: torchrun's own parser reads --n as an abbreviation of its options
    proc = subprocess.run(
        [*TORCHRUN, "-m", "genzoo", "evaluate", str(two), "-n", "2500", *flags],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("written:") == 1  # rank 0 alone prints and writes
    a = json.loads((one / "metrics.json").read_text())
    b = json.loads((two / "metrics.json").read_text())
    assert a["n_fake"] == 1250 and a["metrics"]["nll"]["kind"] == "exact" and a["metrics"]["nll"]["n"] == 2500
    assert _untimed(a) == _untimed(b)


EVAL_SCRIPT = textwrap.dedent(
    """
    import json, sys, torch, torch.distributed, genzoo
    from genzoo.errors import GenzooError
    from genzoo.metrics.core import EvalContext
    from genzoo.metrics.likelihood import nll
    from genzoo import distributed
    torch.set_num_threads(1)
    rank, _, _ = distributed.setup(torch.device("cpu"))
    result = {"split": distributed.map_split(lambda x: [x, rank], range(5))}

    def fails(x):
        if x == 3:
            raise GenzooError("item 3 failed")
        return x

    try:
        distributed.map_split(fails, range(5))
        result["error"] = None
    except GenzooError as exc:
        result["error"] = str(exc)
    load = genzoo.datasets.load
    jobs = [("rbm", {"binarize": "static"}, {"hidden": 16}, "digits"), ("vae", {"n": 2000}, {}, "ring8")]
    for name, opts, params, data in jobs:
        train, test = load(data, split="train", **opts), load(data, split="test", **opts)
        model = genzoo.models.create(name, train, seed=0, **params)
        model.prepare(train)
        model.eval()
        with torch.no_grad():
            result[name] = nll(EvalContext(model, test, n=len(test), seed=0), batch_size=100)  # 4 chunks
    tag = f"ddp-rank{rank}" if distributed.active() else "single"
    with open(f"{sys.argv[1]}/{tag}.json", "w") as fh:
        json.dump(result, fh)
    if distributed.active():
        torch.distributed.destroy_process_group()  # not at interpreter exit, where gloo can abort
    """
)


@pytest.fixture(scope="module")
def split_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("split")
    script = out / "job.py"
    script.write_text(EVAL_SCRIPT)
    for cmd in ([sys.executable], TORCHRUN):
        proc = subprocess.run(
            [*cmd, str(script), str(out)], capture_output=True, text=True, env=ENV, timeout=300
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
    return {
        tag: json.loads((out / f"{tag}.json").read_text()) for tag in ("single", "ddp-rank0", "ddp-rank1")
    }


def test_map_split_deals_items_round_robin_and_shares_errors(split_runs) -> None:
    assert split_runs["single"]["split"] == [[x, 0] for x in range(5)]
    for rank in (0, 1):
        run = split_runs[f"ddp-rank{rank}"]
        assert run["split"] == [[x, x % 2] for x in range(5)]  # in order, item x computed by rank x mod 2
        assert run["error"] == "item 3 failed"  # raised on rank 1, raised on rank 0 too
    assert split_runs["single"]["error"] == "item 3 failed"


def test_split_monte_carlo_likelihood(split_runs) -> None:
    """A stochastic log_prob under torchrun: chunk 0 on every rank with one process's generator,
    each later chunk with its own. The RBM's AIS log Z, fixed by the first call, is then the
    same on every rank and the figures one process's; the VAE's IWAE draws differ per chunk."""
    single, rank0, rank1 = split_runs["single"], split_runs["ddp-rank0"], split_runs["ddp-rank1"]
    for name in ("rbm", "vae"):
        assert _untimed(rank0[name]) == _untimed(rank1[name])
        assert rank0[name]["draws"] == "per chunk" and "draws" not in single[name]
        assert rank0[name]["n"] == single[name]["n"]
    assert {k: v for k, v in rank0["rbm"].items() if k != "draws"} == single["rbm"]
    vae, ref = rank0["vae"], single["vae"]
    assert vae["nats"] != ref["nats"]
    assert abs(vae["nats"] - ref["nats"]) < 5 * ref["std_err_nats"]
