"""``python -m seqbench.testing.child_main``: the other process OtherProcess talks to.

It unpickles each object it is sent and answers what the copy does here. Kept apart
from seqbench.testing.child, which the package imports, so running it as ``__main__``
never finds itself already imported.
"""

from __future__ import annotations

import os
import pickle
import sys
import traceback
from typing import Any, Callable

import numpy as np

from seqbench.params import param_specs
from seqbench.testing.child import receive, send
from seqbench.testing.task_rules import generate


def _generate(task: Any, count: int, seed: int, split: str) -> tuple[np.ndarray, ...]:
    examples = generate(task, count, seed, split)
    return examples.inputs, examples.targets, np.asarray(task.solve(examples.inputs))


def _hyper_parameters(model: Any) -> tuple[str, dict[str, Any]]:
    cls = type(model)
    values = {spec.name: getattr(model, spec.name) for spec in param_specs(cls)}
    return f"{cls.__module__}:{cls.__qualname__}", values


# What the parent may ask of an object it sends: action name -> answer(obj, *args).
_ACTIONS: dict[str, Callable[..., object]] = {"generate": _generate, "hyper_parameters": _hyper_parameters}


def main() -> int:
    # Answers go to the real stdout; whatever plugin code prints goes to stderr.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    requests = sys.stdin.buffer
    while True:
        try:
            action, blob, args = receive(requests)
        except EOFError:
            return 0
        try:
            obj = pickle.loads(blob)
        except Exception as error:
            send(answers, ("error", f"unpickling failed: {type(error).__name__}: {error}"))
            continue
        try:
            send(answers, ("ok", _ACTIONS[action](obj, *args)))
        except Exception as error:
            detail = traceback.format_exc(limit=-3)
            send(answers, ("error", f"{type(error).__name__}: {error}\n{detail}"))


if __name__ == "__main__":
    sys.exit(main())
