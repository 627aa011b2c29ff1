"""Under SLURM without torchrun: srun's task variables give the process group its rank, size and
master (genzoo.distributed.from_slurm) — two gloo processes started as srun would start them end
with the weights of one process with the doubled batch, as under torchrun."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import torch
from safetensors.torch import load_file

from genzoo.distributed import first_host, from_slurm


def test_first_host_of_a_node_list():
    assert first_host("gnode[10,20,25,37]") == "gnode10"
    assert first_host("gpu[003-004,010],cpu1") == "gpu003"
    assert first_host("cpu1,gpu[1-2]") == "cpu1"
    assert first_host("rack1-node[07-09]-ib") == "rack1-node07-ib"
    assert first_host("localhost") == "localhost"


def test_the_mapping_and_where_it_stays_away():
    srun = {
        "SLURM_PROCID": "3",
        "SLURM_NTASKS": "4",
        "SLURM_STEP_NUM_TASKS": "4",
        "SLURM_LOCALID": "1",
        "SLURM_STEP_ID": "0",
        "SLURM_JOB_NODELIST": "gpu[07-08]",
        "SLURM_JOB_ID": "123456",
    }
    env = dict(srun)
    assert from_slurm(env)
    assert (env["RANK"], env["WORLD_SIZE"], env["LOCAL_RANK"]) == ("3", "4", "1")
    assert (env["MASTER_ADDR"], env["MASTER_PORT"]) == ("gpu07", str(29500 + 456))
    kept = {**srun, "MASTER_ADDR": "head", "MASTER_PORT": "4000"}
    assert from_slurm(kept) and (kept["MASTER_ADDR"], kept["MASTER_PORT"]) == ("head", "4000")
    torchrun = {**srun, "RANK": "0", "WORLD_SIZE": "2"}
    assert not from_slurm(torchrun) and torchrun["WORLD_SIZE"] == "2"  # torchrun's own variables win
    batch = {k: v for k, v in srun.items() if k != "SLURM_STEP_ID"}  # an sbatch script's shell
    assert not from_slurm(batch) and "WORLD_SIZE" not in batch
    one = {**srun, "SLURM_STEP_NUM_TASKS": "1", "SLURM_NTASKS": "1"}
    assert not from_slurm(one) and "RANK" not in one


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_srun_tasks_train_as_one_process_with_the_doubled_batch(tmp_path):
    base = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    base = {**base, "OMP_NUM_THREADS": "1"}
    train = [sys.executable, "-m", "genzoo", "train", "ae", "--data", "digits", "--steps", "12", "--quiet"]
    train += ["--set", "train.sample_grid=false", "--threads", "1"]
    port = str(_free_port())
    procs = [
        subprocess.Popen(
            [*train, "--batch-size", "16", "--out", str(tmp_path / "slurm")],
            env={
                **base,
                "SLURM_PROCID": str(rank),
                "SLURM_NTASKS": "2",
                "SLURM_LOCALID": str(rank),
                "SLURM_STEP_ID": "0",
                "SLURM_JOB_NODELIST": "localhost",
                "MASTER_PORT": port,
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
    one = subprocess.run(
        [*train, "--batch-size", "32", "--out", str(tmp_path / "one")],
        env=base,
        capture_output=True,
        text=True,
    )
    assert one.returncode == 0, one.stderr[-2000:]
    a, b = (
        load_file(tmp_path / "slurm" / "model.safetensors"),
        load_file(tmp_path / "one" / "model.safetensors"),
    )
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5, rtol=1e-4), (k, float((a[k] - b[k]).abs().max()))
