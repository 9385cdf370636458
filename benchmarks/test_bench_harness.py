"""The harness's own cost per point, around a model that does nothing (the oracle on a
two-step adding problem, one example per split).

``point_in_process``: the pipeline alone (build, data, meters, phases, record).
``point_in_worker``: what ``seqbench run`` pays per point with the local executor: a
fresh worker process (interpreter start, imports, plugin loading), the pipeline, and
the store write. ``benchmarks/point_overhead.py`` measures the same by a slope over
whole ``seqbench run`` invocations.
"""

from __future__ import annotations

from pathlib import Path

from seqbench.executors.local import LocalExecutor
from seqbench.point import Point
from seqbench.pipeline import run_point
from seqbench.settings import RunSettings
from seqbench.record import Record
from seqbench.store import Store

RUN = RunSettings(epochs=1, train_size=1, eval_size=1, batch_size=1, device="cpu")
POINT = Point(suite="overhead", task="adding", task_params={"seq_len": 2}, model="oracle",
              model_params={}, run=RUN, seed=0)


def test_point_in_process(benchmark):
    record = benchmark(run_point, POINT)
    assert record.ok, record.error


def test_point_in_worker(benchmark, tmp_path: Path):
    with Store(tmp_path / "store.sqlite") as store:

        def one_point() -> Record:
            (record,) = LocalExecutor(jobs=1).run([POINT])
            store.write(record, {})
            return record

        record = benchmark.pedantic(one_point, rounds=5, iterations=1, warmup_rounds=1)
    assert record.ok, record.error
