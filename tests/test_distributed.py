"""Data-parallel training with torchrun: two CPU processes on the gloo backend on localhost end
with identical weights, equal (to float tolerance) to one process with the doubled batch, for a
deterministic model; the adversarial (two optimisers) and RBM (hand-made gradients) steps keep
the ranks identical too (the RBM's persistent chains, per rank, excepted)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch
from safetensors.torch import load_file

import genzoo

SCRIPT = textwrap.dedent(
    """
    import os, sys, torch, genzoo
    from safetensors.torch import save_file
    torch.set_num_threads(1)
    out, rank = sys.argv[1], int(os.environ["RANK"])
    digits = genzoo.datasets.load("digits", split="train")
    binary = genzoo.datasets.load("digits", split="train", binarize="static")
    jobs = [("ae", digits, {}), ("gan", digits, {"arch": "mlp", "hidden": (32,)}), ("rbm", binary, {"hidden": 16})]
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
        save_file({k: v.detach().contiguous() for k, v in r.model.state_dict().items()}, f"{out}/vae-{tag}-rank{rank}.safetensors")
    """
)


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    script = out / "job.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script), str(out)]
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
        run = genzoo.train(model, data, steps=12, batch_size=32, seed=0, device="cpu", lr=1e-3, progress=False, sample_grid=False)
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
        half = genzoo.train(model, data, steps=12, batch_size=16, seed=0, device="cpu", lr=1e-3, progress=False, sample_grid=False)
    assert any(not torch.allclose(two[k], v, atol=1e-5, rtol=1e-4) for k, v in half.model.state_dict().items())


def test_a_resumed_run_equals_an_uninterrupted_one(ddp_runs) -> None:
    for rank in (0, 1):
        a = load_file(ddp_runs / f"vae-resumed-rank{rank}.safetensors")
        b = load_file(ddp_runs / f"vae-straight-rank{rank}.safetensors")
        assert all(torch.equal(a[k], b[k]) for k in a)
    state = torch.load(ddp_runs / "vae-resumed" / "train_state.pt", weights_only=True)
    assert len(state["rng_ranks"]) == 2 and not torch.equal(state["rng_ranks"][0]["torch"], state["rng_ranks"][1]["torch"])
