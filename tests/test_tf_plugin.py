"""seqbench-tensorflow as an installed plugin: it loads where TensorFlow is missing (its
models listed as unavailable with the install command, suites naming them refused, every
other plugin working), it imports TensorFlow only to build a model, TensorFlow's start-up
noise stays out of a point's output, and installing it keeps every pinned version.

"Missing" is a real environment: a virtual environment holding this one's packages
(links to them) except TensorFlow, so ``import tensorflow`` fails there as it does where
TensorFlow was never installed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parent.parent
TF_MODELS = ["tf:attention", "tf:gp-attention", "tf:gru-seq2seq", "tf:lstm", "tf:oracle", "tf:transformer"]
INSTALL_HINT = "TensorFlow is not installed; install it with: pip install 'tensorflow>=2.16'"

try:
    metadata.distribution("seqbench-tensorflow")
except metadata.PackageNotFoundError:
    pytest.skip("seqbench-tensorflow is not installed", allow_module_level=True)


def run(python: Path | str, *args: str, cwd: Path | None = None, env: dict | None = None):
    return subprocess.run(
        [str(python), *args], capture_output=True, text=True, timeout=300, cwd=cwd, env=env
    )


@pytest.fixture(scope="module")
def python_without_tensorflow(tmp_path_factory) -> Path:
    """A virtual environment with every package of this one but TensorFlow."""
    venv = tmp_path_factory.mktemp("without-tensorflow") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    ours = Path(sysconfig.get_paths()["purelib"])
    theirs = Path(
        sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"]
    )
    for entry in ours.iterdir():
        if re.match(r"tensorflow([-_.]|$)", entry.name):
            continue
        (theirs / entry.name).symlink_to(entry)
    python = venv / "bin" / "python"
    check = run(python, "-c", "import torch, seqbench_tensorflow; import tensorflow")
    assert "No module named 'tensorflow'" in check.stderr, check.stderr  # truly missing, all else there
    return python


def test_without_tensorflow_its_models_are_listed_unavailable_with_the_install_command(
    python_without_tensorflow,
):
    result = run(python_without_tensorflow, "-m", "seqbench", "models")
    assert result.returncode == 0
    assert result.stderr == ""  # the plugin loaded: no broken-plugin warning
    for name in TF_MODELS:
        assert f"{name}  [seqbench-tensorflow]  UNAVAILABLE\n  unavailable: {INSTALL_HINT}\n" in result.stdout
    assert "torch:lstm  [seqbench-torch]\n" in result.stdout
    assert result.stdout.count("UNAVAILABLE") == len(TF_MODELS)


def test_without_tensorflow_the_plugin_listing_says_its_models_cannot_run(python_without_tensorflow):
    result = run(python_without_tensorflow, "-m", "seqbench", "plugins")
    assert result.returncode == 0
    assert f"    UNAVAILABLE {', '.join(TF_MODELS)}: {INSTALL_HINT}\n" in result.stdout
    assert result.stdout.count("UNAVAILABLE") == 1  # torch's models can run


def test_without_tensorflow_a_suite_naming_a_tf_model_is_refused_before_anything_runs(
    python_without_tensorflow, tmp_path
):
    suite = tmp_path / "mixed.toml"
    suite.write_text('[task]\nname = "adding"\n[[model]]\nname = "torch:oracle"\n[[model]]\nname = "tf:lstm"\n')
    store = tmp_path / "store.sqlite"
    result = run(python_without_tensorflow, "-m", "seqbench", "run", str(suite), "--store", str(store))
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: {suite}: [[model]] #2 name: model 'tf:lstm' is unavailable: {INSTALL_HINT}\n"
    )
    assert not store.exists()


def test_without_tensorflow_every_other_plugin_works(python_without_tensorflow, tmp_path):
    plugins = run(python_without_tensorflow, "-m", "seqbench", "plugins")
    assert plugins.returncode == 0 and "FAILED" not in plugins.stdout
    assert "seqbench-tensorflow  (seqbench-tensorflow 0.1.0)" in plugins.stdout

    suite = tmp_path / "others.toml"
    suite.write_text(
        '[run]\nepochs = 1\ntrain_size = 64\neval_size = 32\nbatch_size = 32\ndevice = "cpu"\n'
        '[task]\nname = "adding"\nseq_len = 8\n'
        '[[model]]\nname = "torch:lstm"\nhidden = 8\n[[model]]\nname = "torch:oracle"\n'
        '[[model]]\nname = "numpy:ridge"\n[[model]]\nname = "oracle"\n'
    )
    store = tmp_path / "store.sqlite"
    result = run(python_without_tensorflow, "-m", "seqbench", "run", str(suite), "--store", str(store))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(" ok ") == 4

    # Models that cannot run here are not offered as the ones that can serve a task.
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('[task]\nname = "subsequence"\n[[model]]\nname = "torch:attention"\n')
    refused = run(python_without_tensorflow, "-m", "seqbench", "run", str(wrong), "--store", str(store))
    assert refused.returncode == 2
    able = set(refused.stderr.strip().split("models that can: ")[1].split(", "))
    # Other installed plugins (the tutorial's numpy:lookup) may add to the list; no tf model may.
    assert {"oracle", "torch:gru-seq2seq", "torch:oracle", "torch:transformer"} <= able
    assert not {name for name in able if name.startswith("tf:")}


@pytest.mark.parametrize("architecture", [name.split(":")[1] for name in TF_MODELS])
def test_every_tf_model_declares_its_torch_twins_parameters_defaults_and_tasks(architecture):
    from seqbench import registry
    from seqbench.params import param_specs

    ours, twin = (registry.models().get(f"{fw}:{architecture}") for fw in ("tf", "torch"))

    def declared(cls):  # help texts may differ: they name each framework's mechanism
        return [(s.name, s.type, s.default, s.min, s.max, s.choices) for s in param_specs(cls)]

    assert declared(ours) == declared(twin)
    assert (ours.serves, ours.serves_every_task, ours.smoke) == (twin.serves, twin.serves_every_task, twin.smoke)


def test_listing_and_validating_never_import_tensorflow():
    # `seqbench models` and suite validation must not pay for TensorFlow's import.
    script = (
        "import sys\n"
        "from seqbench import registry\n"
        "from seqbench.suite import load_suite\n"
        "[cls.unavailable() for _, cls in registry.models().items()]\n"
        f"load_suite({str(ROOT / 'suites' / 'frameworks.toml')!r})\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    result = run(sys.executable, "-c", script)
    assert result.stdout.strip() == "False False", result.stderr


def test_tensorflow_start_up_noise_stays_out_of_a_points_output(tmp_path):
    from seqbench.suite import load_suite

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "KERAS_"))}
    # TensorFlow is noisy on this machine when imported as is (absl and CUDA notices)...
    bare = run(sys.executable, "-c", "import tensorflow as tf; tf.config.list_physical_devices()", env=env)
    assert bare.returncode == 0 and bare.stderr.strip()
    # ...and silent when a point builds, trains and evaluates a TensorFlow model.
    point = next(p for p in load_suite(ROOT / "suites" / "frameworks.toml", smoke=True).points if p.model == "tf:attention")
    record = tmp_path / "record.json"
    worker = subprocess.run(
        [sys.executable, "-m", "seqbench.worker", str(record)],
        input=point.to_json(), capture_output=True, text=True, env=env, timeout=300,
    )
    assert worker.returncode == 0
    assert (worker.stdout, worker.stderr) == ("", "")
    assert '"status": "ok"' in record.read_text()


def _pins() -> dict[str, SpecifierSet]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            pins[requirement.name] = requirement.specifier
    return pins


def _dependency_tree(distribution: str) -> set[str]:
    """Every distribution ``distribution`` needs, transitively (extras left out)."""
    seen: set[str] = set()
    pending = [distribution]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                try:
                    metadata.distribution(requirement.name)
                except metadata.PackageNotFoundError:
                    continue  # an optional dependency this platform does not install
                pending.append(requirement.name.lower().replace("_", "-"))
    return seen


def test_installing_the_tensorflow_plugin_keeps_every_pinned_version():
    pins = _pins()
    assert "torch" in pins
    for name, specifier in pins.items():
        installed = metadata.version(name)
        assert specifier.contains(installed), f"{name} {installed} breaks the pin {name}{specifier}"
    # Nothing the TensorFlow plugin installs could move torch: torch is not in its tree...
    tree = _dependency_tree("seqbench-tensorflow")
    assert "tensorflow" in tree and "numpy" in tree
    assert "torch" not in tree
    # ...and what both trees share (numpy, ...) satisfies both frameworks' requirements.
    check = run(sys.executable, "-m", "pip", "check")
    assert check.returncode == 0, check.stdout
