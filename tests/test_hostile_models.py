"""Issue 18, class 6: what would fail at run time, or silently run somewhere else, is
refused before anything starts. ``run.device`` is exactly auto, cpu, cuda or cuda:N and
names a GPU this machine shows; a model's own constraints (its ``__post_init__``, and
``Model.validate`` for the point's task and run settings) are checked for every point.
Each refusal is one line naming the file and key, exit 2, nothing written."""

from __future__ import annotations

import contextlib

import pytest
from fake_nvml import use_fake_nvml

from seqbench.suite import load_suite
from test_suite_validation import ORACLE, assert_one_line_error, invoke_run

RUN = '[run]\nepochs = 1\ntrain_size = 64\neval_size = 32\nbatch_size = 32\n'
ADDING = '[task]\nname = "adding"\nseq_len = 10\n'


@pytest.mark.parametrize(
    "device",
    ["cpu\n", "cuda:\uff11", "cuda:\u0661", "cuda:01", "cuda:+1", "cuda:-1", " cpu", "CPU", "cuda:"],
    ids=["newline", "full-width", "arabic-indic", "leading-zero", "plus", "minus", "space", "upper",
         "no-index"],
)
def test_a_device_string_is_exactly_one_of_the_allowed_forms(tmp_path, store_path, device):
    suite = tmp_path / "suite.toml"
    suite.write_text(RUN + f"device = {device!r}\n".replace("'", '"') + ADDING + ORACLE)
    assert_one_line_error(
        invoke_run(str(suite), "--store", str(store_path)), store_path,
        f"{suite}: [run] device: expected auto, cpu, cuda or cuda:N, got {device!r}")


@pytest.mark.parametrize(
    "where, visible, fragment",
    [
        ('device = "cuda:3"', "0", "[run] device: 'cuda:3' is not on this machine (1 visible GPU); "
                                   "allowed here: auto, cpu, cuda, cuda:0"),
        ('device = "cuda"', "", "[run] device: 'cuda' is not on this machine (no visible GPU); "
                                "allowed here: auto, cpu"),
        ('[sweep]\nrun.device = ["cpu", "cuda:1"]', "0", "[sweep] run.device: 'cuda:1' is not on this machine"),
    ],
    ids=["index-past-the-gpus", "no-gpu", "swept"],
)
def test_a_gpu_this_machine_does_not_show_is_refused_even_for_numpy_models(
        tmp_path, store_path, monkeypatch, where, visible, fragment):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    suite = tmp_path / "suite.toml"
    run, _, sweep = where.partition("[sweep]")
    suite.write_text(RUN + run + "\n" + ADDING + ORACLE + (f"[sweep]{sweep}\n" if sweep else ""))
    with one_gpu(monkeypatch):
        result = invoke_run(str(suite), "--store", str(store_path))
    assert_one_line_error(result, store_path, f"{suite}: {fragment}")
    # The machine's GPUs are the local executor's; a suite read for elsewhere is not checked.
    assert load_suite(suite).points


def test_device_option_naming_a_missing_gpu_is_refused(tmp_path, store_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    suite = tmp_path / "suite.toml"
    suite.write_text(RUN + 'device = "cpu"\n' + ADDING + ORACLE)
    with one_gpu(monkeypatch):
        result = invoke_run(str(suite), "--store", str(store_path), "--device", "cuda:2")
    assert_one_line_error(result, store_path, "Error: --device: 'cuda:2' is not on this machine (1 visible GPU)")


def test_cuda_visible_devices_on_a_machine_without_a_driver_shows_no_gpu(tmp_path, store_path, monkeypatch):
    """CUDA_VISIBLE_DEVICES=0 without an NVIDIA driver counted as one GPU: device =
    "cuda" passed validation and every torch point failed."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    suite = tmp_path / "suite.toml"
    suite.write_text(RUN + 'device = "cuda"\n' + ADDING + ORACLE)
    for library in ("missing", "driver_not_loaded"):
        with use_fake_nvml(monkeypatch) as configure:
            configure(library=library)
            result = invoke_run(str(suite), "--store", str(store_path))
        assert_one_line_error(result, store_path, "[run] device: 'cuda' is not on this machine (no visible GPU)")


@contextlib.contextmanager
def one_gpu(monkeypatch):
    """This machine shown one GPU: the fake NVML's, as a driver would list it."""
    with use_fake_nvml(monkeypatch) as configure:
        configure({"uuid": "GPU-aaaaaaaa-0000-0000-0000-000000000000", "name": "NVIDIA H100 80GB HBM3"})
        yield


@pytest.mark.parametrize(
    "task, model, fragment",
    [
        ('[task]\nname = "polynomial"\n',
         '[[model]]\nname = "torch:transformer"\nhidden = 32\n[sweep]\nmodel.heads = [2, 3]\n',
         "[[model]] #1 'torch:transformer' (at [sweep] model.heads = 3): heads (3) must divide hidden (32)"),
        (ADDING, '[[model]]\nname = "torch:lstm"\nprecision = "bf16"\n',
         "[[model]] #1 'torch:lstm': precision 'bf16' needs a CUDA device, but this point runs on the CPU "
         "(run.device, or no GPU here for 'auto'); allowed on the CPU: precision = 'fp32'"),
    ],
    ids=["heads-divide-hidden", "bf16-on-the-cpu"],
)
def test_model_constraints_are_refused_before_anything_runs(tmp_path, store_path, monkeypatch, task, model, fragment):
    pytest.importorskip("seqbench_torch")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # "auto" is the CPU, on any machine
    suite = tmp_path / "suite.toml"
    suite.write_text(RUN + 'device = "auto"\n' + task + model)
    assert_one_line_error(invoke_run(str(suite), "--store", str(store_path)), store_path, f"{suite}: {fragment}")


def test_a_causal_readout_that_cannot_fit_the_task_is_refused_by_validate():
    pytest.importorskip("seqbench_torch")
    from seqbench.settings import RunSettings
    from seqbench.task import Signature, Task
    from seqbench_torch.causal_models import TorchS4D

    class Expand(Task):  # answers longer than their questions
        name = "expand"
        signature = Signature("tokens", "tokens", input_length=4, input_vocab=5, target_length=9,
                              target_vocab=5)

    run = RunSettings.from_dict({"device": "cpu", "target": None})
    TorchS4D(readout="end").validate(Expand(), run)
    with pytest.raises(ValueError, match="readout 'last' .* longer targets \\(9\\) than inputs \\(4\\); "
                                         "allowed here: readout = 'end'"):
        TorchS4D(readout="last").validate(Expand(), run)


CHECKED_MODEL = '''
from dataclasses import dataclass
import numpy as np
from seqbench import Model, hookimpl, param

@dataclass
class Small(Model):
    name = "checked:small"
    serves_every_task = True
    width: int = param(8, min=1)

    def validate(self, task, run):
        if run.batch_size > 16:
            raise ValueError(f"batch_size {run.batch_size} is more than this model takes; "
                             f"allowed: 1 to 16 (device {run.device})")
        if self.width == 13:
            raise RuntimeError("unlucky")

@hookimpl
def register_models(register):
    register(Small)
'''


def test_a_plugin_models_validate_hook_refuses_its_points(install_plugin, tmp_path, store_path, monkeypatch):
    install_plugin("seqbench-checked", CHECKED_MODEL)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    suite = tmp_path / "suite.toml"
    suite.write_text(RUN + ADDING + '[[model]]\nname = "checked:small"\n')
    assert_one_line_error(
        invoke_run(str(suite), "--store", str(store_path)), store_path,
        f"{suite}: [[model]] #1 'checked:small': batch_size 32 is more than this model takes; "
        "allowed: 1 to 16 (device cpu)")
    # A validate() that fails by its own bug is the plugin's, named as such.
    suite.write_text(RUN.replace("32\n", "8\n") + ADDING + '[[model]]\nname = "checked:small"\nwidth = 13\n')
    assert_one_line_error(
        invoke_run(str(suite), "--store", str(store_path)), store_path,
        f"{suite}: [[model]] #1 'checked:small': model 'checked:small' of plugin 'seqbench-checked' "
        "(seqbench-checked 0.0.1) is broken: validate() raised RuntimeError: unlucky")


def test_every_shipped_models_sizes_are_bounded(tmp_path, store_path):
    """hidden = 2**62 (or a Mamba state of 2**62) passed validation, and every point
    failed with a page of C++ allocator errors."""
    from seqbench import registry
    from seqbench.architectures import MAX_LAYERS, MAX_WIDTH
    from seqbench.params import param_specs

    sizes = {"hidden", "d_model", "emb_dim", "ff_dim", "heads", "layers", "enc_layers", "dec_layers", "state",
             "expand", "mlp_expand", "conv_width", "chunk", "filter_width", "bands"}
    checked = 0
    for name in registry.models().names():
        for spec in param_specs(registry.models().get(name)):
            if spec.name in sizes and name.startswith(("torch:", "tf:")):
                assert spec.max in (MAX_WIDTH, MAX_LAYERS), (name, spec.name)
                checked += 1
    assert checked > 30

    suite = tmp_path / "suite.toml"
    suite.write_text(RUN + ADDING + '[[model]]\nname = "torch:lstm"\nhidden = 4611686018427387904\n')
    assert_one_line_error(invoke_run(str(suite), "--store", str(store_path)), store_path,
                          "'torch:lstm' hidden: expected int between 1 and 65536, got 4611686018427387904")
