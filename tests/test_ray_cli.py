"""``--executor ray`` and ``--ray-address`` refused with one clear line, before anything
runs: Ray missing, an address without the ray executor, a point pinned to one GPU."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from seqbench import registry
from seqbench.cli import main

SUITE = """\
[suite]
name = "tiny"

[run]
epochs = 1
train_size = 16
eval_size = 16
batch_size = 16
device = "{device}"

[task]
name = "adding"
seq_len = 2

[[model]]
name = "oracle"
"""


@pytest.fixture(autouse=True)
def ray_environment(monkeypatch):
    # The ray executor sets these for the Ray it starts; keep them out of other tests.
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)


def run(suite: Path, store: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["run", str(suite), "--store", str(store), *args])


def assert_refused(result: Result, store: Path, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.stderr.splitlines() == [f"Error: {message}"]
    assert result.stdout == ""
    assert not store.exists() and not store.parent.exists()


def test_the_ray_executor_is_registered_without_importing_ray(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # any `import ray` now fails

    assert "ray" in registry.executors()
    assert registry.executors().plugin_of("ray") == "seqbench.default_plugins.ray"


def test_executor_ray_without_ray_installed_names_the_install_command(
    write_suite, store_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "ray", None)
    suite = write_suite(SUITE.format(device="cpu"))

    assert_refused(
        run(suite, store_path, "--executor", "ray"), store_path,
        "--executor ray needs Ray, which is not installed: pip install 'seqbench[ray]'",
    )


def test_ray_address_without_executor_ray_is_a_usage_error(write_suite, store_path):
    suite = write_suite(SUITE.format(device="cpu"))

    assert_refused(
        run(suite, store_path, "--ray-address", "127.0.0.1:6379"), store_path,
        "--ray-address is an option of --executor ray, not --executor local",
    )


def test_a_point_pinned_to_a_later_gpu_is_refused_on_ray(write_suite, store_path):
    pytest.importorskip("ray")
    suite = write_suite(SUITE.format(device="cuda:1"))

    assert_refused(
        run(suite, store_path, "--executor", "ray", "--dry-run"), store_path,
        "suite tiny: run.device = 'cuda:1' names one GPU, but on Ray each point is given "
        'its own GPU, which it sees as cuda:0; use device = "cuda" or "auto"',
    )


def test_run_help_documents_the_scale_out_options():
    result = CliRunner().invoke(main, ["run", "--help"])
    text = " ".join(result.output.split())

    assert result.exit_code == 0
    assert "--executor TEXT Executor that runs the points: local, ray" in text
    assert "--ray-address ADDR With --executor ray: the cluster to join" in text
    assert "Default: 1 locally; on Ray, every CPU of the local instance" in text


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_ray_address_where_nothing_listens_is_refused_at_once(write_suite, store_path):
    pytest.importorskip("ray")
    suite = write_suite(SUITE.format(device="cpu"))
    address = f"127.0.0.1:{unused_port()}"

    assert_refused(
        run(suite, store_path, "--executor", "ray", "--ray-address", address), store_path,
        f"--ray-address {address}: nothing answers there (Connection refused); start the "
        "cluster first (ray start --head) or check the address",
    )


@pytest.mark.parametrize("address", ["headnode", "headnode:port", ":6379"])
def test_a_malformed_ray_address_is_refused(write_suite, store_path, address):
    pytest.importorskip("ray")
    suite = write_suite(SUITE.format(device="cpu"))

    assert_refused(
        run(suite, store_path, "--executor", "ray", "--ray-address", address), store_path,
        f"--ray-address {address!r}: expected HOST:PORT, ray://HOST:PORT or auto",
    )
