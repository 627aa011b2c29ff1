"""Reading the next batches of a folder on disk in worker processes while the model trains.

The trainer's batch order (a seeded permutation per epoch, part of every checkpoint) decides
which examples come next; `Prefetcher` hands that order's remaining batches of the epoch
to a PyTorch `DataLoader` whose workers decode the files (`Dataset.fetch`: no randomness
there), and the trainer converts, augments and binarises each batch in its own process from the
run's generator (`Dataset.finish`). The batches are therefore the ones the same run reads
from memory, in the same order, and a resumed run reads on from where it stopped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from genzoo.data.base import Dataset
from genzoo.errors import GenzooError


class _Rows(torch.utils.data.Dataset):
    """`fetch` of an index tensor, with a refused file passed back as its one-line message."""

    def __init__(self, data: Dataset) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: Tensor) -> tuple[Tensor, Any]:
        try:
            return index, self.data.fetch(index)
        except GenzooError as exc:
            return index, str(exc)


class _Order(torch.utils.data.Sampler):
    """The batches of `perm` from `start`, `size` examples each (the epoch's remainder)."""

    def __init__(self) -> None:
        self.perm, self.start, self.size = torch.zeros(0, dtype=torch.long), 0, 1

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(self.start, len(self.perm) - self.size + 1, self.size):
            yield self.perm[i : i + self.size]

    def __len__(self) -> int:
        return max(0, (len(self.perm) - self.start) // self.size)


class Prefetcher:
    """The stored values of the batches an epoch's permutation names, read ahead by `workers`
    processes (each holds a few batches ready)."""

    def __init__(self, data: Dataset, workers: int) -> None:
        self.data, self.workers = data, workers
        self.order = _Order()
        self.loader: torch.utils.data.DataLoader | None = None  # started at the first batch
        self._it: Iterator[tuple[Tensor, Any]] | None = None

    def restart(self) -> None:
        """The permutation or position changed other than by reading on (a new epoch, a resume)."""
        self._it = None

    def next(self, perm: Tensor, start: int, index: Tensor) -> Tensor:
        """The stored values of `index`, the batch of `perm` at `start`."""
        if self.loader is None:
            self.loader = torch.utils.data.DataLoader(
                _Rows(self.data),
                sampler=self.order,
                batch_size=None,
                num_workers=self.workers,
                persistent_workers=True,
                prefetch_factor=4,
            )
        if self._it is None:
            self.order.perm, self.order.start, self.order.size = perm, start, len(index)
            self._it = iter(self.loader)
        got, raw = next(self._it)
        if isinstance(raw, str):
            raise GenzooError(raw)
        if not torch.equal(got, index):  # the loader's order is the trainer's, or nothing is read
            raise RuntimeError("the loader's batch is not the one the batch order names")
        return raw

    def close(self) -> None:
        """End the workers (a later batch starts new ones)."""
        self._it = None
        self.loader = None  # the persistent workers end with their loader
