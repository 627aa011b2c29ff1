"""Data-parallel training on PyTorch's own distributed engine, for every family.

`torchrun --nproc_per_node N -m genzoo train ...` starts N processes with RANK, LOCAL_RANK and
WORLD_SIZE in their environment; the trainer then joins the process group (NCCL on CUDA, gloo
on the CPU) and:

- every rank draws the same global batch of N·B examples from the same data generator and takes
  its own B (`--batch-size` is per rank, the global batch N·B);
- rank 0's initial weights and buffers are broadcast to all ranks;
- after every backward pass the gradients of the optimiser about to step are averaged over the
  ranks (one all-reduce of a flattened buffer) — in `StepContext.optimize` and in the RBM's
  hand-made gradient step alike, so the adversarial families (two optimisers) and the RBMs need
  nothing of their own. With identical weights, identical averaged gradients and identical
  optimisers, the ranks stay identical, and a model whose loss is a mean over its batch trains
  as one process would with the global batch;
- the decision to stop (end, time limit, Ctrl-C) is taken together, so no rank waits forever;
- rank 0 alone writes checkpoints, logs and samples; each rank's RNG state is saved, so
  `--resume` continues exactly.

`torchrun --nproc_per_node N -m genzoo evaluate RUN` splits the metric suite's expensive loops
(the model's samples, the held-out log-likelihood) over the ranks with `map_split`: fixed
chunks, each computed by one rank exactly as one process computes it, gathered in order, so the
results equal one process's.

Under SLURM, `srun -n N genzoo train ...` (one task per process) works without torchrun: where
torchrun's variables are absent, SLURM's task id, task count and local id give RANK, WORLD_SIZE
and LOCAL_RANK, the first host of the job's node list MASTER_ADDR (see `from_slurm`).

This is what DistributedDataParallel does, without its bucketing and its overlap of
communication with the backward pass, and without wrapping a model whose training step calls
its own submodules (a GAN's generator and critic) in ways DDP's forward hook cannot see.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")
R = TypeVar("R")


SLURM_PORT_BASE = 29500  # MASTER_PORT under SLURM (when not set): this + the job id mod 1000


def first_host(nodelist: str) -> str:
    """The first host of a SLURM node list: "gpu[003-004,010],cpu1" → "gpu003" (zero padding kept)."""
    depth, end = 0, len(nodelist)
    for i, ch in enumerate(nodelist):  # the first top-level item: commas inside brackets don't split
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            end = i
            break
    item = nodelist[:end].strip()
    if "[" not in item:
        return item
    head, rest = item.split("[", 1)
    ranges, tail = rest.split("]", 1)
    return head + ranges.split(",")[0].split("-")[0] + tail


def from_slurm(environ: Any = None) -> bool:
    """In a task that `srun` started (SLURM_STEP_ID set), without torchrun's variables: RANK,
    WORLD_SIZE, LOCAL_RANK from SLURM_PROCID, SLURM_STEP_NUM_TASKS (or SLURM_NTASKS),
    SLURM_LOCALID, and MASTER_ADDR (the first host of SLURM_JOB_NODELIST) and MASTER_PORT (29500 +
    the job id mod 1000) where not set, written into `environ` (os.environ) for the process group
    to read. True where it mapped them. A batch script's own shell (no job step) also carries
    SLURM_PROCID = 0 and the job's SLURM_NTASKS: a `genzoo train` run there, not under srun, stays
    one process instead of waiting for ranks that never start."""
    env = os.environ if environ is None else environ
    if "WORLD_SIZE" in env or "RANK" in env or "SLURM_PROCID" not in env:
        return False
    if "SLURM_STEP_ID" not in env and "SLURM_STEPID" not in env:
        return False
    try:
        rank = int(env["SLURM_PROCID"])
        world = int(env.get("SLURM_STEP_NUM_TASKS", env.get("SLURM_NTASKS", "1")))
    except ValueError:
        return False
    if world <= 1:
        return False
    env["RANK"], env["WORLD_SIZE"] = str(rank), str(world)
    env["LOCAL_RANK"] = env.get("SLURM_LOCALID", "0")
    if "MASTER_ADDR" not in env:
        env["MASTER_ADDR"] = first_host(env.get("SLURM_JOB_NODELIST", env.get("SLURM_NODELIST", "localhost")))
    if "MASTER_PORT" not in env:
        job = env.get("SLURM_JOB_ID", "0")
        env["MASTER_PORT"] = str(SLURM_PORT_BASE + (int(job) % 1000 if job.isdigit() else 0))
    return True


def env_world_size() -> int:
    """WORLD_SIZE from the environment (torchrun sets it; mapped from SLURM's under srun), 1
    otherwise."""
    from_slurm()
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def env_rank() -> int:
    from_slurm()
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def setup(device: torch.device) -> tuple[int, int, torch.device]:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1): NCCL on CUDA, gloo on
    the CPU; on CUDA each rank takes the GPU LOCAL_RANK. Returns (rank, world size, device)."""
    if env_world_size() <= 1 or not dist.is_available():
        return 0, 1, device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size(), device


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def broadcast_module(module: torch.nn.Module) -> None:
    """Every parameter and buffer of `module` set to rank 0's."""
    if not active():
        return
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0)


def average_gradients(params: Iterable[torch.nn.Parameter]) -> None:
    """Average the gradients of `params` over the ranks: one all-reduce of the flattened
    gradients (those that exist; which ones exist is the same on every rank)."""
    if not active():
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset : offset + n].view_as(g))
        offset += n


def any_rank(flag: bool, device: torch.device) -> bool:
    """True if `flag` is true on any rank (a collective: every rank must call it)."""
    if not active():
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def gather_objects(obj: Any) -> list[Any]:
    """[obj of rank 0, obj of rank 1, …] on every rank (a collective)."""
    if not active():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def map_split(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """[fn(x) for x in items], the work split over the ranks: rank r computes items[r::N] and the
    results are gathered (a collective: every rank must call it, with the same items), so every
    rank returns the full list in the order of `items`. One process: a plain loop.

    Results travel pickled (`all_gather_object`): return CPU tensors. An exception on any rank is
    raised on every rank (the failing rank's own; a copy elsewhere), so no rank waits forever for
    another and all take the same path afterwards."""
    items = list(items)
    if not active():
        return [fn(x) for x in items]
    rank, world = dist.get_rank(), dist.get_world_size()
    mine: list[R] = []
    error: Exception | None = None
    try:
        mine = [fn(x) for x in items[rank::world]]
    except Exception as exc:  # shared below, raised on every rank
        error = exc
    shared: Exception | None = None
    if error is not None:
        try:
            pickle.loads(pickle.dumps(error))  # travels both ways (a custom __init__ may not)
            shared = error
        except Exception:
            shared = RuntimeError(f"rank {rank}: {error!r}")
    parts = gather_objects((None, shared) if error is not None else (mine, None))
    if error is not None:
        raise error
    for _, exc in parts:
        if exc is not None:
            raise exc
    out: list[Any] = [None] * len(items)
    for r, (part, _) in enumerate(parts):
        out[r::world] = part
    return out


def barrier() -> None:
    if active():
        dist.barrier()
