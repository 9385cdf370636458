"""seqbench-torch's sequence networks: the GRU encoder-decoder and the Transformer on the
token tasks, the GP attention model on gp-pairs, and the torch oracle on all three.

Tiny sizes on the CPU; the figures (the GRU's exact match at L = 10) are reproduced by
suites/reproductions, not here. These tests check behaviour.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from seqbench import registry  # noqa: E402
from seqbench.task import PAD_ID  # noqa: E402
from seqbench_tasks import GPPairs, Polynomial, Subsequence  # noqa: E402
from seqbench_torch.networks.gp_attention import MIN_VARIANCE  # noqa: E402
from seqbench_torch.networks.base import sequence_lengths  # noqa: E402
from torch_training import settings, train  # noqa: E402

GRU = {"emb_dim": 16, "hidden": 32, "layers": 1}
TRANSFORMER = {"hidden": 32, "enc_layers": 1, "dec_layers": 1, "heads": 2, "ff_dim": 64}
GP_ATTENTION = {"d_model": 16, "layers": 1, "heads": 2, "ff_dim": 32}
SEQ2SEQ = {"torch:gru-seq2seq": GRU, "torch:transformer": TRANSFORMER}


def built(model_name: str, task, **params):
    model = registry.models().get(model_name)(**params)
    model.build(task, settings())
    return model


def examples_of(task, count: int = 48, seed: int = 7):
    return task.generate(count, np.random.default_rng(seed), split="test")


@pytest.mark.parametrize(
    "model_name, task, params",
    [
        ("torch:gru-seq2seq", Subsequence(), {**GRU, "lr": 1e-2}),
        ("torch:gru-seq2seq", Polynomial(), {**GRU, "lr": 1e-2}),
        ("torch:transformer", Subsequence(), {**TRANSFORMER, "lr": 3e-3}),
        ("torch:transformer", Polynomial(), {**TRANSFORMER, "lr": 3e-3}),
        ("torch:gp-attention", GPPairs(length=40, context=10), {**GP_ATTENTION, "lr": 3e-3}),
    ],
    ids=[
        "gru-subsequence",
        "gru-polynomial",
        "transformer-subsequence",
        "transformer-polynomial",
        "gp-attention",
    ],
)
def test_every_architecture_trains_on_the_tasks_it_serves(model_name, task, params):
    assert registry.models().get(model_name).supports(task.signature)
    _, losses = train(model_name, task, epochs=8, train_size=256, **params)
    assert len(losses) == 8 and all(np.isfinite(losses))
    assert losses[-1] < 0.75 * losses[0]


@pytest.mark.parametrize("model_name", SEQ2SEQ)
@pytest.mark.parametrize("task", [Subsequence(), Polynomial()], ids=["subsequence", "polynomial"])
def test_seq2seq_predictions_are_token_ids_of_the_target_length(model_name, task):
    model = built(model_name, task, **SEQ2SEQ[model_name])
    predictions = model.predict(examples_of(task).inputs)
    signature = task.signature
    assert predictions.shape == (48, signature.target_length)
    assert predictions.dtype == np.int64
    assert predictions.min() >= 0 and predictions.max() < signature.target_vocab


@pytest.mark.parametrize("model_name", SEQ2SEQ)
def test_seq2seq_predict_decodes_greedily_from_its_own_outputs(model_name):
    # Teacher forcing always on while training: the forced pass is driven by whatever
    # targets it is given. Greedy decoding is its own fixed point: forcing the model's
    # own predictions reproduces them, while forcing the true targets (which an
    # untrained model does not predict) gives other outputs. Large random weights make
    # every output depend on the token fed back.
    task = Subsequence()
    params = {**SEQ2SEQ[model_name], "dropout": 0.0}
    if model_name == "torch:gru-seq2seq":
        params.update(teacher_forcing=1.0, init_scale=1.0)
    model = built(model_name, task, **params)
    examples = examples_of(task)
    predictions = model.predict(examples.inputs)
    network = model._trainer.network
    network.train()  # forcing is only ever on in training mode
    inputs = torch.from_numpy(examples.inputs).long()

    def forced(targets: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return network(inputs, torch.from_numpy(targets).long()).argmax(dim=2).numpy()

    np.testing.assert_array_equal(forced(predictions), predictions)
    assert not np.array_equal(forced(examples.targets), predictions)
    np.testing.assert_array_equal(model.predict(examples.inputs), predictions)  # eval again


def test_gru_teacher_forcing_is_drawn_from_the_seeded_generator():
    task = Subsequence()
    first, first_losses = train("torch:gru-seq2seq", task, epochs=2, train_size=128, **GRU)
    second, second_losses = train("torch:gru-seq2seq", task, epochs=2, train_size=128, **GRU)
    assert first_losses == second_losses
    inputs = examples_of(task).inputs
    np.testing.assert_array_equal(first.predict(inputs), second.predict(inputs))


def test_sequence_lengths_count_to_the_last_non_pad_token():
    # A PAD id before the last real token is a token (the subsequence task's index 0).
    tokens = torch.tensor([[0, 3, 5, 0, 0], [4, 0, 0, 0, 0], [2, 2, 2, 2, 2], [0, 0, 0, 0, 0]])
    assert sequence_lengths(tokens).tolist() == [3, 1, 5, 1]


def test_gru_encoding_does_not_depend_on_the_batch_padding():
    task = Polynomial()
    examples = examples_of(task, count=200)
    lengths = (examples.inputs != PAD_ID).sum(axis=1)
    short, long = int(np.argmin(lengths)), int(np.argmax(lengths))
    assert lengths[short] + 5 <= lengths[long]
    model, _ = train("torch:gru-seq2seq", task, epochs=1, train_size=256, **GRU)
    alone = examples.inputs[[short]]
    together = examples.inputs[[short, long]]  # trimmed to the long one's width
    np.testing.assert_array_equal(model.predict(alone)[0], model.predict(together)[0])
    network = model._trainer.network.eval()
    trim = model._trainer.inputs
    with torch.no_grad():
        state_alone = network.encode(trim(alone))[:, 0]
        state_together = network.encode(trim(together))[:, 0]
    assert trim(alone).shape[1] < trim(together).shape[1]
    torch.testing.assert_close(state_alone, state_together, rtol=1e-5, atol=1e-6)


def test_transformer_stops_once_every_sequence_has_ended_and_pads_after_the_end():
    task = Polynomial()
    model = built("torch:transformer", task, **TRANSFORMER)
    network = model._trainer.network
    end = task.signature.end_id
    with torch.no_grad():
        network.head.bias[end] = 1e4  # every sequence ends at its first step
    calls = []
    network.transformer.decoder.register_forward_hook(lambda *_: calls.append(1))
    predictions = model.predict(examples_of(task).inputs)
    assert len(calls) == 1
    assert predictions.shape == (48, task.signature.target_length)
    assert (predictions[:, 0] == end).all() and (predictions[:, 1:] == PAD_ID).all()


def test_gru_pads_after_the_end_token():
    task = Polynomial()
    model = built("torch:gru-seq2seq", task, **GRU)
    end = task.signature.end_id
    with torch.no_grad():
        model._trainer.network.head.bias[end] = 1e4  # the end token at every step
    predictions = model.predict(examples_of(task).inputs)
    assert (predictions[:, 0] == end).all() and (predictions[:, 1:] == PAD_ID).all()


def test_transformer_without_an_end_token_decodes_the_whole_target_length():
    task = Subsequence()  # no end_id: zeros are answers, decoding never stops early
    model = built("torch:transformer", task, **TRANSFORMER)
    calls = []
    model._trainer.network.transformer.decoder.register_forward_hook(lambda *_: calls.append(1))
    model.predict(examples_of(task).inputs)
    assert len(calls) == task.signature.target_length


def test_transformer_refuses_inputs_longer_than_its_positional_table():
    model = built("torch:transformer", Subsequence(length=10), **TRANSFORMER)
    longer = examples_of(Subsequence(length=14)).inputs
    with pytest.raises(ValueError, match="an input of 14 tokens is longer than the 10 positions"):
        model.predict(longer)


def test_transformer_embeddings_start_xavier_uniform_not_unit_normal():
    network = built("torch:transformer", Subsequence(length=10), **TRANSFORMER)._trainer.network
    for embedding in (network.source_embedding, network.target_embedding, network.target_positions):
        rows, columns = embedding.weight.shape
        bound = (6 / (rows + columns)) ** 0.5
        assert embedding.weight.abs().max().item() <= bound
        assert embedding.weight.abs().max().item() > bound / 2  # spread over the range


def test_gp_attention_predicts_a_mean_and_a_positive_variance_per_target_point():
    task = GPPairs(length=30, context=8)
    model = built("torch:gp-attention", task, **GP_ATTENTION)
    network = model._trainer.network
    with torch.no_grad():
        network.head.bias[1] = -1e3  # a variance that would collapse without the floor
    examples = examples_of(task)
    predictions = model.predict(examples.inputs)
    assert predictions.shape == (48, 22, 2)
    assert (predictions[..., 1] >= MIN_VARIANCE * 0.999).all()
    assert np.isfinite(task.score(predictions, examples.targets)["nll"])


def test_gp_attention_runs_at_other_lengths_with_the_same_context():
    model = built("torch:gp-attention", GPPairs(length=30, context=8), **GP_ATTENTION)
    longer = examples_of(GPPairs(length=50, context=8), count=4).inputs
    predictions = model.predict(longer)
    assert predictions.shape == (4, 42, 2) and (predictions[..., 1] > 0).all()


def test_torch_oracle_is_the_exact_gp_posterior_as_a_fixed_graph():
    task = GPPairs(length=60, context=15)
    model = built("torch:oracle", task)
    network = model._trainer.network
    assert network.is_graph
    assert not model._trainer.trainable
    inputs = examples_of(task, count=300).inputs
    with torch.no_grad():
        graph = network(torch.from_numpy(inputs)).numpy()
    assert graph.dtype == np.float64
    np.testing.assert_allclose(graph, task.solve(inputs), rtol=0, atol=1e-9)


def test_torch_oracle_predictions_on_gp_pairs_equal_the_task_solve():
    task = GPPairs(length=60, context=15)
    model = built("torch:oracle", task)
    inputs = examples_of(task, count=300).inputs
    np.testing.assert_allclose(model.predict(inputs), task.solve(inputs), rtol=0, atol=1e-9)


def test_torch_oracle_on_gp_pairs_is_exact_at_other_lengths():
    model = built("torch:oracle", GPPairs(length=60, context=15))
    at_length = GPPairs(length=90, context=15)
    inputs = examples_of(at_length, count=20).inputs
    with torch.no_grad():
        graph = model._trainer.network(torch.from_numpy(inputs)).numpy()
    np.testing.assert_allclose(graph, at_length.solve(inputs), rtol=0, atol=1e-9)
    predictions = model.predict(inputs)  # through the loop: float32 for now, see above
    np.testing.assert_allclose(predictions, at_length.solve(inputs), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("task", [Subsequence(), Polynomial()], ids=["subsequence", "polynomial"])
def test_torch_oracle_is_exact_on_token_tasks(task):
    model = built("torch:oracle", task)
    assert not model._trainer.network.is_graph
    examples = examples_of(task, count=500)
    assert task.score(model.predict(examples.inputs), examples.targets)["exact_match"] == 1.0
