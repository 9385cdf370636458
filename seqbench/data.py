"""Deterministic, chunked data splits.

Data are generated in fixed-size chunks (``Task.chunk_size`` examples, 1,024 unless the
task says otherwise), each from its own seed derived from
(run seed, split, chunk index). So the examples depend only on the seed and the
split, never on the batch size (a batch-size sweep trains on the same data), and
train, validation and test draw from independent streams. Chunks are kept in
memory when the split takes at most 256 MiB, else regenerated on every pass so memory
stays bounded. Each chunk is checked as it is made: exactly the examples asked for, of
the shapes, dtype kinds and token ranges the task's signature declares
(``seqbench.plugin_output``), or the point fails naming the task and its plugin.

``FreshTrain`` is the train split under ``run.train_data = "fresh"``: every epoch draws
new examples, as synthetic-task papers train on an unbounded stream. Its chunk seeds
add the epoch to (run seed, "train", chunk index), so each epoch is its own stream,
deterministic by seed and the same for every model of a point; epoch 1 is the fixed
train split itself. The task still generates them as "train" examples, so a task that
keeps its splits disjoint (by assigning each possible input to one split) keeps fresh
examples out of validation and test too.
"""

from __future__ import annotations

import weakref
from typing import Iterator

import numpy as np

from seqbench.plugin_output import check_unchanged, checked_examples
from seqbench.task import Examples, Signature, Task

__all__ = ["Split", "FreshTrain", "SPLITS", "CHUNK_SIZE", "TRAIN_DATA"]

SPLITS = ("train", "validation", "test")
CHUNK_SIZE = Task.chunk_size  # the default; a task may set its own
CACHE_LIMIT_BYTES = 256 << 20
TRAIN_DATA = ("fixed", "fresh")  # the values of run.train_data


# The chunk a task's generate last handed seqbench in this process: the task, and each
# array with a fingerprint of its values; the same task's next call must leave them as
# they were. None once examples have gone to a model since (a model may write into its
# inputs; that change is not the task's to answer for), or a check failed.
_last_handed: tuple[weakref.ref[Task], list[tuple[weakref.ref[np.ndarray], bytes]]] | None = None
# Values of an array its fingerprint reads, evenly spread: a gather, not a pass.
_FINGERPRINT_VALUES = 4096


def _fingerprint(array: np.ndarray) -> bytes:
    if array.size == 0:
        return b""
    where = np.linspace(0, array.size - 1, min(array.size, _FINGERPRINT_VALUES)).astype(np.intp)
    return np.ascontiguousarray(array.flat[where]).tobytes()


def _handed_on() -> None:
    """Examples went to a consumer: what changes in them from now on is not a task's."""
    global _last_handed
    _last_handed = None


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
        self._signature: Signature | None = None

    def __len__(self) -> int:
        return self.size

    @property
    def chunk_count(self) -> int:
        return -(-self.size // self.chunk_size)

    def _spawn_key(self, index: int) -> tuple[int, ...]:
        return (SPLITS.index(self.name), index)

    def _generate_chunk(self, index: int) -> Examples:
        count = min(self.chunk_size, self.size - index * self.chunk_size)
        seed = np.random.SeedSequence(self.seed, spawn_key=self._spawn_key(index))
        examples = self.task.generate(count, np.random.default_rng(seed), split=self.name)
        # A wrong count or shape would otherwise train and score as if right (NumPy
        # broadcasts), stored as an ok point with the wrong number of examples.
        if self._signature is None:
            self._signature = self.task.signature
        where = f"generate({count}, rng, split={self.name!r})"
        checked = checked_examples(self.task.name, examples, count, self._signature, where)
        # The chunk this task handed just before, of any split (a point's splits are made
        # one after another before its model sees any), must be as it was handed: a task that
        # refills one buffer on every call has just overwritten it. Views of one dataset
        # (overlapping windows, a fixed evaluation set returned again) change nothing and
        # pass. A weak reference: a chunk already let go is no concern.
        global _last_handed
        previous, _last_handed = _last_handed, None  # kept only if this chunk passes
        if previous is not None and previous[0]() is self.task:
            earlier = [(ref(), print_) for ref, print_ in previous[1]]
            check_unchanged(self.task.name, [array for array, print_ in earlier
                                             if array is not None and _fingerprint(array) != print_], where)
        try:
            task = weakref.ref(self.task)
        except TypeError:  # a task class with __slots__ and no __weakref__: not followed
            return checked
        _last_handed = (task, [(weakref.ref(array), _fingerprint(array)) for array in (checked.inputs, checked.targets)])
        return checked

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
            _handed_on()
            yield from self._cache
            return
        for index in range(self.chunk_count):
            chunk = self._generate_chunk(index)
            _handed_on()
            yield chunk

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
                _handed_on()
                yield merged[start : start + batch_size]
            rest = merged[full:]
            pending, pending_count = ([rest], len(rest)) if len(rest) else ([], 0)
        if pending_count:
            _handed_on()
            yield Examples.concatenate(pending) if len(pending) > 1 else pending[0]


class FreshTrain(Split):
    """The train split drawn anew every epoch (``run.train_data = "fresh"``).

    The harness calls ``start_epoch`` after each epoch a model reports, so a training
    loop needs nothing new: its next pass over ``batches`` (or ``chunks``) is the next
    epoch's examples. Every pass within one epoch sees the same examples, so a model
    that reads its data in several passes before reporting (``numpy:ridge``) trains on
    the first epoch's examples, as it would on fixed data.
    """

    def __init__(self, task: Task, size: int, seed: int) -> None:
        super().__init__(task, "train", size, seed)
        self.epoch = 1

    def _spawn_key(self, index: int) -> tuple[int, ...]:
        # Epoch 1 keeps the fixed split's key; later epochs add the epoch, a key no
        # other split or epoch uses.
        key = super()._spawn_key(index)
        return key if self.epoch == 1 else (*key, self.epoch)

    def start_epoch(self, epoch: int) -> None:
        """Draw ``epoch``'s examples from now on. They are generated as the loop reads
        them (kept only for the first epoch, in the data phase)."""
        if epoch != self.epoch:
            self.epoch = epoch
            self._cache = None
