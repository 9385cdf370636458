"""Whether a task's parameters make examples it can answer, asked while a suite
validates, before anything is written.

A task declares lower bounds for its parameters, rarely upper ones, and some values
within them fail only once data are made: a vocabulary past int32's token ids, a
length that no memory holds, a Gaussian process whose covariance overflows. Found in
a worker, each was a failed point in the store and exit code 1; found here, it is one
line naming the file and the task, exit code 2, and nothing written. The probe makes
two examples, has the task answer them itself (``solve``, its oracle) and scores the
answer: a primary metric that is not finite for the task's own answer means the
parameters leave the range the task computes in.

Before making anything, the signature's size is checked: one example of more than
``MAX_EXAMPLE_VALUES`` values would take gigabytes in the probe itself, and no point
could train on a chunk of such examples.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from seqbench.errors import UserError
from seqbench.suite_input import brief
from seqbench.task import Signature, Task

__all__ = ["probe_task", "MAX_EXAMPLE_VALUES"]

# 2**26 values: 512 MiB as float64 for one example. The longest sequences benchmarks
# train on today are around a million positions.
MAX_EXAMPLE_VALUES = 2**26
PROBE_EXAMPLES = 2


def _values_per_example(signature: Signature) -> int:
    inputs = signature.input_length * max(signature.input_features, 1)
    return inputs + (signature.target_length or 1)


def probe_task(where: str, task: Task, signature: Signature, params: dict[str, Any], swept: set[str]) -> None:
    """Refuse (UserError) parameters with which ``task`` cannot make and answer an example.

    ``params`` are the task's parameters as resolved, ``swept`` the ones a sweep chose:
    the message names them, since the same [task] table is fine at other values."""
    name = task.name
    shown = ", ".join(f"task.{key} = {brief(params[key])}" for key in sorted(params) if key in swept)
    at = f"[task] {name}" + (f" at [sweep] {shown}" if shown else "")
    size = _values_per_example(signature)
    if size > MAX_EXAMPLE_VALUES:
        raise UserError(
            f"{where}: {at}: would make examples of {size:,} values each (input length "
            f"{signature.input_length:,}); allowed: at most {MAX_EXAMPLE_VALUES:,} values an example"
        )
    try:
        # The overflow warnings on the way to a failure are that failure's detail: the
        # message below says it once.
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            examples = task.generate(PROBE_EXAMPLES, np.random.default_rng(0), split="train")
            answer = task.solve(examples.inputs)
            metrics = task.score(answer, examples.targets)
            primary = float(metrics[task.primary_metric])
    except Exception as error:  # any failure here is the same failure every point would meet
        raise UserError(
            f"{where}: {at}: making and answering two examples with these parameters failed "
            f"({type(error).__name__}: {_first_line(error)}); allowed: values the task can compute "
            "with (smaller or more moderate ones), else its plugin is broken"
        ) from None
    if not math.isfinite(primary):
        raise UserError(
            f"{where}: {at}: with these parameters the task scores its own exact answer "
            f"{task.primary_metric} = {primary}: they leave the range its arithmetic holds; "
            "allowed: more moderate values"
        )


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else "no message"
