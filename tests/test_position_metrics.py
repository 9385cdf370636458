"""Per-position test metrics: the optional ``Task.score_positions``, carried by the
point's record into the store's ``position_metrics`` table and read back by
``seqbench.results.load_position_metrics``."""

from __future__ import annotations

import numpy as np

from seqbench_tasks import Adding


def test_a_task_has_no_position_metrics_unless_it_defines_them():
    task = Adding(seq_len=5)
    examples = task.generate(8, np.random.default_rng(0))
    assert task.score_positions(task.solve(examples.inputs), examples.targets) is None
