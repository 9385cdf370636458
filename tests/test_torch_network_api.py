"""seqbench-torch's public network API: a network defined outside ``seqbench_torch``,
registered by its own plugin, trains through the shared loop (seeding, early stopping,
best weights) and passes the model conformance rules."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from seqbench import registry  # noqa: E402
from seqbench.data import Split  # noqa: E402
from seqbench.model import EpochOutcome, resolve_device  # noqa: E402
from seqbench.testing import model_rules  # noqa: E402
from seqbench.testing.build import tiny_task  # noqa: E402
from torch_training import settings  # noqa: E402

# A third-party plugin: its own module, its own network, registered through the hook.
PLUGIN = '''
from dataclasses import dataclass

from seqbench import hookimpl, param
from seqbench_torch import TorchModel


def flat_network(signature, task, width):
    """Every answer position read from all input positions at once (torch imported here,
    when a point builds the model, not when seqbench lists it)."""
    import torch
    from torch import nn

    from seqbench_torch.networks.base import Network

    class Flat(Network):
        def __init__(self):
            super().__init__()
            self.length, self.vocab = signature.target_length, signature.target_vocab
            self.embed = nn.Embedding(signature.input_vocab, width)
            self.out = nn.Linear(signature.input_length * width, self.length * self.vocab)

        def forward(self, inputs, targets=None):
            padded = nn.functional.pad(inputs, (0, signature.input_length - inputs.shape[1]))
            logits = self.out(self.embed(padded).flatten(1))
            return logits.view(len(inputs), self.length, self.vocab)

        def predict(self, inputs):
            return self(inputs).argmax(-1)

    return Flat()


@dataclass
class FlatModel(TorchModel):
    name = "thirdparty:flat"
    description = "a linear map from all input tokens to every answer token"
    serves = frozenset({("tokens", "tokens")})
    network = "seqbench_thirdparty:flat_network"
    smoke = {"width": 4}

    width: int = param(16, min=1, help="embedding width")


@hookimpl
def register_models(register):
    register(FlatModel)
'''


@pytest.fixture
def flat(install_plugin):
    install_plugin("seqbench-thirdparty", PLUGIN)
    return registry.models().get("thirdparty:flat")


def test_a_network_from_another_package_trains_through_the_shared_loop(flat):
    task = tiny_task("reverse", length=5)
    model = flat(lr=1e-2)
    run = settings(epochs=8, batch_size=64)
    model.build(task, run)
    assert type(model._trainer.network).__module__ == "seqbench_thirdparty"
    losses = []

    def on_epoch(epoch, loss, examples):
        losses.append(loss)
        return EpochOutcome(stop=epoch == 6, improved=epoch <= 5)  # early stop at 6

    model.fit(Split(task, "train", 512, seed=0), run, on_epoch)
    assert len(losses) == 6 and losses[-1] < 0.5 * losses[0]
    test = Split(task, "test", 256, seed=0).materialize()
    assert task.score(model.predict(test.inputs), test.targets)["token_accuracy"] > 0.5


def test_the_third_party_model_passes_the_model_conformance_rules(flat):
    model_rules.check_model_declaration(flat)
    model_rules.check_model_trains_and_predicts(flat, tiny_task("reverse"))
    model_rules.check_model_stops_when_told(flat, tiny_task("reverse"))


def test_a_factory_given_directly_trains_too():
    from seqbench_torch import TorchModel
    from seqbench_torch.causal_models import TorchS4D
    from seqbench_torch.networks.s4d import s4d_network

    class Direct(TorchS4D):
        network = s4d_network  # a plain function: must not bind to the model as a method

    model = Direct(d_model=8, layers=1, state=4)
    assert isinstance(model, TorchModel)
    model.build(tiny_task("reverse"), settings())
    model.fit(Split(tiny_task("reverse"), "train", 32, seed=0), settings(), lambda *a: EpochOutcome(False, True))


def test_a_network_path_that_does_not_import_is_a_clear_error(flat):
    class Misnamed(flat):
        network = "seqbench_thirdparty_missing:flat_network"

    with pytest.raises(ValueError, match="Misnamed.network = 'seqbench_thirdparty_missing:flat_network': cannot import"):
        Misnamed().build(tiny_task("reverse"), settings())


@pytest.mark.parametrize(
    "requested, gpus, expected",
    [("auto", 0, "cpu"), ("auto", 2, "cuda:0"), ("cpu", 2, "cpu"), ("cuda", 1, "cuda:0"), ("cuda:1", 2, "cuda:1")],
)
def test_resolve_device_answers_auto_with_the_first_gpu_or_the_cpu(requested, gpus, expected):
    assert resolve_device(requested, gpus) == expected


@pytest.mark.parametrize("requested, gpus, message", [("cuda", 0, "sees no CUDA device"), ("cuda:2", 2, "sees only 2")])
def test_resolve_device_refuses_a_gpu_that_is_not_there(requested, gpus, message):
    with pytest.raises(RuntimeError, match=message):
        resolve_device(requested, gpus, framework="torch")
