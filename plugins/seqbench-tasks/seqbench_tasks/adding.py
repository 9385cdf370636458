"""The adding problem (Le et al. 2015, §4.1).

Each example is T steps of (value, marker): values uniform in [0, 1), markers zero
except at exactly two positions. The target is the sum of the two marked values.

Where the two markers go (``placement``) is what published variants differ in, and
the easier rules keep the markers near the start, so at long T they shorten the
memory the task needs:
  * "uniform" (unset, the default): two distinct positions, uniform over all T.
    Batuketa's data code places them so. The LSTM experiment's write-up says "two
    random instances", read here as uniform, but it also defines the task as Le et
    al.'s §4.1, which may put one marker in each half ("halves"; the paper is not in
    the reference set, so this is unsettled). Its reproduction suites use uniform.
    The two differ at every T: under uniform the earlier marker lies on average
    0.665 T from the end and both markers share a half in half the sequences; under
    halves 0.75 T, and never.
  * "halves": one uniform in the first half (0..T/2-1), one in the second
    (T/2..T-1), as e.g. the unitary-RNN paper (Arjovsky et al. 2016) states it.
  * "hochreiter": Hochreiter & Schmidhuber's (1997, experiment 4) rule: "mark one of
    the first ten pairs, then one of the first T/2 - 1 still unmarked pairs": the
    first marker uniform over steps 0..9, the second uniform over the first T/2 - 1
    steps other than the first marker's (steps 0..T/2-1 less that one, where the first
    lies among them). At T < 20 the first ten steps reach past T/2, so the first
    marker can land in the second half (steps T/2..min(9, T-1)), and not both markers
    lie in the first half as they do from T = 20. Only the rule is theirs: their values lie in [-1, 1], their
    length varies in T..1.1T and their end steps carry a -1 marker; here values stay
    in [0, 1), the length is T and no step is -1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from seqbench import Examples, Signature, Task, param


@dataclass
class Adding(Task):
    name = "adding"
    description = "sum the two marked values in a sequence of T (value, marker) steps"
    primary_metric = "mse"
    direction = "min"
    metrics = ("mse", "mae")
    length_param = "seq_len"

    seq_len: int = param(100, min=2, help="T: steps per sequence")
    # Unset means "uniform": stored points from before the parameter keep their hashes.
    placement: Literal["uniform", "halves", "hochreiter"] | None = param(
        None,
        help="where the two markers go: uniform (unset): anywhere; halves: one in each "
        "half; hochreiter: the first in steps 0..9 (past T/2 when T < 20), the second in "
        "the first T/2 - 1 steps still unmarked",
    )

    def data_version(self) -> int | None:
        """2 for "hochreiter": its second marker's rule was one step short before (see
        the module's docstring); the other placements' data never changed."""
        return 2 if self.placement == "hochreiter" else None

    def __post_init__(self) -> None:
        if self.placement not in (None, "uniform", "halves", "hochreiter"):
            raise ValueError(
                f"placement must be 'uniform', 'halves' or 'hochreiter', got {self.placement!r}"
            )
        if self.placement == "hochreiter" and self.seq_len < 6:
            raise ValueError(
                f"placement 'hochreiter' needs seq_len >= 6 (the second marker's first T/2 - 1 "
                "unmarked steps), "
                f"got {self.seq_len}"
            )

    @property
    def signature(self) -> Signature:
        return Signature(
            inputs="continuous", targets="scalar", input_length=self.seq_len, input_features=2
        )

    def generate(self, count: int, rng: np.random.Generator, split: str = "train") -> Examples:
        # Continuous values: independent streams never collide, whatever the split.
        length = self.seq_len
        values = rng.random((count, length), dtype=np.float32)
        first, second = self._marker_positions(count, rng)
        markers = np.zeros((count, length), dtype=np.float32)
        rows = np.arange(count)
        markers[rows, first] = 1.0
        markers[rows, second] = 1.0
        inputs = np.stack([values, markers], axis=-1)
        return Examples(inputs, self.solve(inputs))

    def _marker_positions(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        length = self.seq_len
        if self.placement == "halves":
            half = length // 2
            return rng.integers(0, half, size=count), rng.integers(half, length, size=count)
        if self.placement == "hochreiter":
            # The second is the rank-th of the steps still unmarked (rank below T/2 - 1):
            # the steps from the first marker's on move up one. The rule counts T/2 - 1
            # unmarked steps, so it reaches step T/2 - 1 whenever the first lies before.
            first = rng.integers(0, min(10, length), size=count)
            rank = rng.integers(0, length // 2 - 1, size=count)
            return first, rank + (rank >= first)
        # Anywhere: the second uniform over the other positions, an offset in 1..T-1
        # from the first, wrapped.
        first = rng.integers(0, length, size=count)
        second = (first + rng.integers(1, length, size=count)) % length
        return first, second

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        # float64 sum of the float32 values: the target is exact for the stored inputs.
        return np.sum(inputs[..., 0].astype(np.float64) * inputs[..., 1], axis=1)

    def score(self, predictions: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        errors = np.asarray(predictions, dtype=np.float64).reshape(-1) - targets.reshape(-1)
        return {"mse": float(np.mean(errors**2)), "mae": float(np.mean(np.abs(errors)))}
