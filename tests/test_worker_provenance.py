"""A run's provenance names the machine and software its point ran with, as the point's
worker saw them, not the sweep's: under Ray the driver is another machine than the node
that ran the point, and its host, CPU, GPUs and versions are not the point's."""

from __future__ import annotations

import json
import socket

from click.testing import CliRunner

from seqbench import runner
from seqbench.cli import main
from seqbench.executors.subprocess_worker import WorkerProcess
from seqbench.provenance import MACHINE_KEYS, collect
from seqbench.store import Store
from seqbench.suite import load_suite

SUITE = """\
[suite]
name = "where"
seeds = [0]

[run]
train_size = 8
eval_size = 8
device = "cpu"

[task]
name = "adding"
seq_len = 3

[[model]]
name = "oracle"
"""

ELSEWHERE = {"host": "driverhost", "cpu": "the driver's CPU", "cpu_count": 512, "gpus": ["H100"],
             "python": "3.0.0", "frameworks": {"numpy": "0.0.1"}}


def stored_provenance(store_path) -> dict:
    with Store(store_path) as store:
        (text,) = store.connection.execute("SELECT provenance FROM runs").fetchone()
    return json.loads(text)


def test_a_workers_record_carries_the_machine_it_saw_and_the_store_keeps_it_over_the_sweeps(
    write_suite, store_path
):
    suite = load_suite(write_suite(SUITE))
    sweep = {**collect(suite.path, suite.file_hash), **ELSEWHERE}
    # A worker whose environment differs from the sweep's, as a Ray node's may: one
    # plugin not installed there.
    worker = WorkerProcess(suite.points[0], {"SEQBENCH_DISABLE_PLUGINS": "seqbench-example"})
    worker.wait()
    record = worker.record()
    worker.close()

    assert record.ok, record.error
    assert set(MACHINE_KEYS) <= set(record.provenance)
    assert record.provenance["host"] == socket.gethostname()
    assert "seqbench-example" in sweep["plugins"]
    assert "seqbench-example" not in record.provenance["plugins"]

    with Store(store_path) as store:
        store.write(record, sweep)
    stored = stored_provenance(store_path)
    assert {key: stored[key] for key in MACHINE_KEYS} == {key: record.provenance[key] for key in MACHINE_KEYS}
    assert stored["suite_hash"] == suite.file_hash  # the suite's own keys are the sweep's


def test_a_sweep_whose_driver_is_another_machine_stores_the_workers_machine(
    write_suite, store_path, monkeypatch
):
    suite = write_suite(SUITE)
    # The driver's view of itself, as a driver elsewhere (another host, its own UTS
    # namespace) would collect it; the point's worker runs here.
    monkeypatch.setattr(runner, "collect", lambda path, digest: {**collect(path, digest), **ELSEWHERE})

    result = CliRunner().invoke(main, ["run", str(suite), "--store", str(store_path)])

    assert result.exit_code == 0, result.output
    stored = stored_provenance(store_path)
    assert stored["host"] == socket.gethostname()
    assert stored["cpu_count"] != 512 and stored["gpus"] != ["H100"] and stored["python"] != "3.0.0"
    assert stored["frameworks"]["numpy"] != "0.0.1"
    assert stored["suite_file"] == str(suite) and stored["device"] == "cpu"


def test_a_worker_that_died_is_failed_with_the_machine_it_died_on(write_suite):
    # Under Ray, the failed record of a worker that died is made on the node that ran
    # it (WorkerProcess runs there): its machine, not the driver's, is the point's.
    suite = load_suite(write_suite(SUITE))
    worker = WorkerProcess(suite.points[0], {})
    worker.process.kill()
    worker.wait()
    record = worker.record()

    assert not record.ok and "worker process died" in (record.error or "")
    assert set(MACHINE_KEYS) <= set(record.provenance)
    assert record.provenance["host"] == socket.gethostname()
