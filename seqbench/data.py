"""Deterministic, chunked data splits.

Data are generated in fixed-size chunks (``Task.chunk_size`` examples, 1,024 unless the
task says otherwise), each from its own seed derived from
(run seed, split, chunk index). So the examples depend only on the seed and the
split, never on the batch size (a batch-size sweep trains on the same data), and
train, validation and test draw from independent streams. Chunks are kept in
memory when the split takes at most 256 MiB, else regenerated on every pass so memory
stays bounded.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from seqbench.task import Examples, Task

__all__ = ["Split", "SPLITS", "CHUNK_SIZE"]

SPLITS = ("train", "validation", "test")
CHUNK_SIZE = Task.chunk_size  # the default; a task may set its own
CACHE_LIMIT_BYTES = 256 << 20


class Split:
    def __init__(self, task: Task, name: str, size: int, seed: int) -> None:
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; allowed: {', '.join(SPLITS)}")
        self.task = task
        self.name = name
        self.size = size
        self.seed = seed
        self.chunk_size = int(task.chunk_size)
        if self.chunk_size < 1:
            raise ValueError(f"task {task.name!r}: chunk_size must be at least 1, got {self.chunk_size}")
        self._cache: list[Examples] | None = None

    def __len__(self) -> int:
        return self.size

    @property
    def chunk_count(self) -> int:
        return -(-self.size // self.chunk_size)

    def _generate_chunk(self, index: int) -> Examples:
        count = min(self.chunk_size, self.size - index * self.chunk_size)
        seed = np.random.SeedSequence(self.seed, spawn_key=(SPLITS.index(self.name), index))
        return self.task.generate(count, np.random.default_rng(seed), split=self.name)

    def prepare(self) -> None:
        """Generate and keep the chunks if they fit the cache limit (the "data" phase)."""
        if self._cache is not None or self.size == 0:
            return
        first = self._generate_chunk(0)
        estimate = (first.inputs.nbytes + first.targets.nbytes) * self.chunk_count
        if estimate <= CACHE_LIMIT_BYTES:
            self._cache = [first] + [self._generate_chunk(i) for i in range(1, self.chunk_count)]

    def chunks(self) -> Iterator[Examples]:
        if self._cache is not None:
            yield from self._cache
            return
        for index in range(self.chunk_count):
            yield self._generate_chunk(index)

    def materialize(self) -> Examples:
        return Examples.concatenate(list(self.chunks()))

    def batches(
        self, batch_size: int, rng: np.random.Generator | None = None
    ) -> Iterator[Examples]:
        """Batches of ``batch_size`` (the last may be smaller); shuffled when ``rng`` is given.

        Shuffling permutes chunk order and examples within each chunk, which keeps
        memory bounded for streamed splits.
        """
        order = np.arange(self.chunk_count)
        if rng is not None:
            rng.shuffle(order)
        pending: list[Examples] = []
        pending_count = 0
        for index in order.tolist():
            chunk = self._cache[index] if self._cache is not None else self._generate_chunk(index)
            if rng is not None:
                chunk = chunk[rng.permutation(len(chunk))]
            pending.append(chunk)
            pending_count += len(chunk)
            if pending_count < batch_size:
                continue
            merged = Examples.concatenate(pending) if len(pending) > 1 else pending[0]
            full = (len(merged) // batch_size) * batch_size
            for start in range(0, full, batch_size):
                yield merged[start : start + batch_size]
            rest = merged[full:]
            pending, pending_count = ([rest], len(rest)) if len(rest) else ([], 0)
        if pending_count:
            yield Examples.concatenate(pending) if len(pending) > 1 else pending[0]
