"""seqbench-tensorflow: every architecture trains on the tasks it serves; sequence models
decode greedily; the training loop keeps the torch loop's contract; tf:oracle is exact.

Tiny sizes on the CPU, TensorFlow imported once for the module. The framework-to-framework
figures come from suites/frameworks*.toml, not from here; these tests check behaviour.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from seqbench import registry  # noqa: E402
from seqbench.data import Split  # noqa: E402
from seqbench.model import EpochOutcome, FitSettings  # noqa: E402
from seqbench.task import PAD_ID  # noqa: E402
from seqbench_tasks import Adding, GPPairs, Polynomial, Subsequence  # noqa: E402
from seqbench_tensorflow.runtime import import_tensorflow  # noqa: E402
from torch_training import settings, train  # noqa: E402  (framework-neutral helpers)

tf = import_tensorflow()

GRU = {"emb_dim": 16, "hidden": 32, "layers": 1}
TRANSFORMER = {"hidden": 32, "enc_layers": 1, "dec_layers": 1, "heads": 2, "ff_dim": 64}
GP_ATTENTION = {"d_model": 16, "layers": 1, "heads": 2, "ff_dim": 32}
SEQ2SEQ = {"tf:gru-seq2seq": GRU, "tf:transformer": TRANSFORMER}

# Every (architecture, task) pair the plugin declares, with sizes and training that make
# the loss fall clearly in seconds (the torch tests' settings).
TRAINING = {
    "lstm-adding": ("tf:lstm", Adding(seq_len=10), {"lr": 3e-3}, 6, 1024, 0.6),
    "attention-adding": ("tf:attention", Adding(seq_len=10), {"lr": 3e-3}, 6, 1024, 0.6),
    "gru-subsequence": ("tf:gru-seq2seq", Subsequence(), {**GRU, "lr": 1e-2}, 8, 256, 0.75),
    "gru-polynomial": ("tf:gru-seq2seq", Polynomial(), {**GRU, "lr": 1e-2}, 8, 256, 0.75),
    "transformer-subsequence": ("tf:transformer", Subsequence(), {**TRANSFORMER, "lr": 3e-3}, 8, 256, 0.75),
    "transformer-polynomial": ("tf:transformer", Polynomial(), {**TRANSFORMER, "lr": 3e-3}, 8, 256, 0.75),
    "gp-attention": ("tf:gp-attention", GPPairs(length=40, context=10), {**GP_ATTENTION, "lr": 3e-3}, 8, 256, 0.75),
}


@functools.cache
def trained(key: str):
    """Each pair trained once per session; later tests reuse the trained model."""
    model_name, task, params, epochs, size, _ = TRAINING[key]
    return train(model_name, task, epochs=epochs, train_size=size, **params)


def built(model_name: str, task, **params):
    model = registry.models().get(model_name)(**params)
    model.build(task, settings())
    return model


def examples_of(task, count: int = 48, seed: int = 7):
    return task.generate(count, np.random.default_rng(seed), split="test")


@pytest.mark.parametrize("key", TRAINING)
def test_every_architecture_trains_on_the_tasks_it_serves(key):
    model_name, task, _, epochs, _, falls_to = TRAINING[key]
    assert registry.models().get(model_name).supports(task.signature)
    _, losses = trained(key)
    assert len(losses) == epochs and all(np.isfinite(losses))
    assert losses[-1] < falls_to * losses[0]


def test_scalar_predictions_have_the_task_shape():
    model, _ = trained("lstm-adding")
    predictions = model.predict(examples_of(Adding(seq_len=10), count=5).inputs)
    assert predictions.shape == (5,) and predictions.dtype == np.float64


@pytest.mark.parametrize("key", ["lstm-adding", "gru-subsequence"])
def test_same_seed_gives_the_same_trained_model(key):
    # The GRU also draws its teacher-forcing coins from the seeded generator.
    first, first_losses = trained(key)
    model_name, task, params, epochs, size, _ = TRAINING[key]
    second, second_losses = train(model_name, task, epochs=epochs, train_size=size, **params)
    assert first_losses == second_losses
    inputs = examples_of(task, count=16).inputs
    np.testing.assert_array_equal(first.predict(inputs), second.predict(inputs))


def test_best_epoch_weights_are_restored_when_later_epochs_are_worse():
    task = Adding(seq_len=6)
    model = registry.models().get("tf:lstm")(lr=1e-2)
    run = settings(epochs=3)
    model.build(task, run)
    probe = examples_of(task, count=16).inputs
    snapshots = []

    def on_epoch(epoch, loss, examples):
        snapshots.append(model.predict(probe))
        return EpochOutcome(stop=False, improved=epoch == 1)

    model.fit(Split(task, "train", 256, seed=0), run, on_epoch)
    np.testing.assert_array_equal(model.predict(probe), snapshots[0])
    assert not np.array_equal(snapshots[0], snapshots[-1])


def test_early_stop_ends_training_when_the_harness_says_so():
    task = Adding(seq_len=6)
    model = registry.models().get("tf:lstm")()
    run = settings(epochs=10)
    model.build(task, run)
    seen = []

    def on_epoch(epoch, loss, examples):
        seen.append((epoch, examples))
        return EpochOutcome(stop=epoch == 2, improved=True)

    model.fit(Split(task, "train", 64, seed=0), run, on_epoch)
    assert seen == [(1, 64), (2, 64)]


@pytest.mark.parametrize("precision, dtype", [("bf16", "bfloat16"), ("fp16", "float16")])
def test_mixed_precision_computes_in_half_precision_and_keeps_float32_weights(precision, dtype):
    model, losses = train("tf:attention", Adding(seq_len=6), epochs=2, train_size=128, precision=precision)
    network = model._trainer.network
    assert network.head.layers[0].compute_dtype == dtype
    assert {weight.dtype for weight in network.trainable_variables} == {"float32"}
    assert all(np.isfinite(losses))
    if precision == "fp16":  # float16 needs loss scaling against underflowing gradients
        assert type(model._trainer.optimizer).__name__ == "LossScaleOptimizer"
    # Layers made later (another point in this process) are back to full precision.
    assert built("tf:attention", Adding(seq_len=6))._trainer.network.embed.compute_dtype == "float32"


def test_compile_trains_the_same_model_through_xla():
    task = Adding(seq_len=6)
    eager, eager_losses = train("tf:attention", task, epochs=2, train_size=128)
    compiled, compiled_losses = train("tf:attention", task, epochs=2, train_size=128, compile=True)
    # XLA fuses and reorders float operations: close to eager, not bit-identical.
    np.testing.assert_allclose(compiled_losses, eager_losses, rtol=1e-3)
    batch = next(Split(task, "train", 8, seed=0).batches(8))

    def xla_program(model) -> str:
        trainer = model._trainer
        step = trainer._train_step.experimental_get_compiler_ir(trainer.inputs(batch.inputs), trainer.targets(batch.targets))
        return step(stage="hlo")

    assert xla_program(compiled).startswith("HloModule")
    with pytest.raises(ValueError, match="jit_compile=True"):
        xla_program(eager)


def test_cuda_device_without_a_gpu_is_a_clear_error():
    model = registry.models().get("tf:lstm")()
    with pytest.raises(RuntimeError, match="run.device is 'cuda:1' but TensorFlow sees no GPU"):
        model.build(Adding(seq_len=5), FitSettings(1, 8, "cuda:1", 0, None))


def test_auto_device_is_the_cpu_without_a_gpu():
    assert built("tf:oracle", Adding(seq_len=5))._trainer.device == "/CPU:0"


@pytest.mark.parametrize(
    "architecture, task, sizes",
    [
        ("lstm", Adding(seq_len=10), {"hidden": 16, "layers": 2}),
        ("attention", Adding(seq_len=10), {"d_model": 8, "hidden": 8}),
        ("gru-seq2seq", Polynomial(), {"emb_dim": 8, "hidden": 16, "layers": 2}),
        ("transformer", Polynomial(), {"hidden": 16, "enc_layers": 2, "dec_layers": 1, "heads": 2, "ff_dim": 24}),
        ("gp-attention", GPPairs(length=30, context=8), {"d_model": 8, "heads": 2, "layers": 2, "ff_dim": 12}),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_every_network_has_as_many_weights_as_its_torch_twin(architecture, task, sizes):
    pytest.importorskip("torch")
    ours = built(f"tf:{architecture}", task, **sizes)._trainer.network
    twin = built(f"torch:{architecture}", task, **sizes)._trainer.network
    tf_count = sum(int(np.prod(weight.shape)) for weight in ours.trainable_variables)
    torch_count = sum(parameter.numel() for parameter in twin.parameters())
    # torch's LSTM keeps an input and a recurrent bias per gate, Keras' LSTM one.
    extra_torch_biases = 4 * sizes["hidden"] * sizes["layers"] if architecture == "lstm" else 0
    assert torch_count == tf_count + extra_torch_biases


# --- sequence-to-sequence ------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["gru-subsequence", "gru-polynomial", "transformer-subsequence", "transformer-polynomial"]
)
def test_seq2seq_predictions_are_token_ids_of_the_target_length(key):
    model, _ = trained(key)
    task = TRAINING[key][1]
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
    if model_name == "tf:gru-seq2seq":
        params.update(teacher_forcing=1.0, init_scale=1.0)
    model = built(model_name, task, **params)
    examples = examples_of(task)
    predictions = model.predict(examples.inputs)
    network = model._trainer.network

    def forced(targets: np.ndarray) -> np.ndarray:
        logits = network(tf.constant(examples.inputs, tf.int32), tf.constant(targets, tf.int32), training=True)
        return tf.argmax(logits, axis=2).numpy()

    np.testing.assert_array_equal(forced(predictions), predictions)
    assert not np.array_equal(forced(examples.targets), predictions)
    np.testing.assert_array_equal(model.predict(examples.inputs), predictions)


def test_gru_encoding_does_not_depend_on_the_batch_padding():
    task = Polynomial()
    examples = examples_of(task, count=200)
    lengths = (examples.inputs != PAD_ID).sum(axis=1)
    short, long = int(np.argmin(lengths)), int(np.argmax(lengths))
    assert lengths[short] + 5 <= lengths[long]
    model, _ = trained("gru-polynomial")
    alone = examples.inputs[[short]]
    together = examples.inputs[[short, long]]  # trimmed to the long one's width
    np.testing.assert_array_equal(model.predict(alone)[0], model.predict(together)[0])
    trainer = model._trainer
    state_alone = trainer.network.encode(trainer.inputs(alone))[0][0]
    state_together = trainer.network.encode(trainer.inputs(together))[0][0]
    assert trainer.inputs(alone).shape[1] < trainer.inputs(together).shape[1]
    np.testing.assert_allclose(state_alone.numpy(), state_together.numpy(), rtol=1e-5, atol=1e-6)


def _counting_decoder_steps(network) -> list[int]:
    """Count the decoder's runs while ``infer`` runs eagerly (the loop body is Python)."""
    calls: list[int] = []
    decode = network.decode

    def counted(*args, **kwargs):
        calls.append(1)
        return decode(*args, **kwargs)

    network.decode = counted
    return calls


# Decoding eagerly, Keras warns that attention over the first step's single key is a
# softmax over one element: true, and harmless.
EAGER_FIRST_STEP = "ignore:You are using a softmax over axis"


@pytest.mark.filterwarnings(EAGER_FIRST_STEP)
def test_transformer_stops_once_every_sequence_has_ended_and_pads_after_the_end():
    task = Polynomial()
    model = built("tf:transformer", task, **TRANSFORMER)
    network = model._trainer.network
    end = task.signature.end_id
    bias = network.head.bias
    bias.assign(tf.tensor_scatter_nd_update(bias, [[end]], [1e4]))  # every sequence ends at once
    predictions = model.predict(examples_of(task).inputs)
    assert predictions.shape == (48, task.signature.target_length)
    assert (predictions[:, 0] == end).all() and (predictions[:, 1:] == PAD_ID).all()
    calls = _counting_decoder_steps(network)
    network.infer(tf.constant(examples_of(task).inputs, tf.int32))
    assert len(calls) == 1


@pytest.mark.filterwarnings(EAGER_FIRST_STEP)
def test_transformer_without_an_end_token_decodes_the_whole_target_length():
    task = Subsequence()  # no end_id: zeros are answers, decoding never stops early
    model = built("tf:transformer", task, **TRANSFORMER)
    calls = _counting_decoder_steps(model._trainer.network)
    model._trainer.network.infer(tf.constant(examples_of(task).inputs, tf.int32))
    assert len(calls) == task.signature.target_length


def test_gru_pads_after_the_end_token():
    task = Polynomial()
    model = built("tf:gru-seq2seq", task, **GRU)
    end = task.signature.end_id
    bias = model._trainer.network.head.bias
    bias.assign(tf.tensor_scatter_nd_update(bias, [[end]], [1e4]))  # the end token at every step
    predictions = model.predict(examples_of(task).inputs)
    assert (predictions[:, 0] == end).all() and (predictions[:, 1:] == PAD_ID).all()


def test_transformer_refuses_inputs_longer_than_its_positional_table():
    model = built("tf:transformer", Subsequence(length=10), **TRANSFORMER)
    longer = examples_of(Subsequence(length=14)).inputs
    with pytest.raises(ValueError, match="an input of 14 tokens is longer than the 10 positions"):
        model.predict(longer)


# --- GP attention --------------------------------------------------------------------


def test_gp_attention_predicts_a_mean_and_a_positive_variance_per_target_point():
    from seqbench_tensorflow.networks.gp_attention import MIN_VARIANCE

    task = GPPairs(length=30, context=8)
    model = built("tf:gp-attention", task, **GP_ATTENTION)
    bias = model._trainer.network.head.bias
    bias.assign([0.0, -1e3])  # a variance that would collapse without the floor
    examples = examples_of(task)
    predictions = model.predict(examples.inputs)
    assert predictions.shape == (48, 22, 2)
    assert (predictions[..., 1] >= MIN_VARIANCE * 0.999).all()
    assert np.isfinite(task.score(predictions, examples.targets)["nll"])


def test_gp_attention_runs_at_other_lengths_with_the_same_context():
    model, _ = trained("gp-attention")  # trained at length 40, context 10
    longer = examples_of(GPPairs(length=60, context=10), count=4).inputs
    predictions = model.predict(longer)
    assert predictions.shape == (4, 50, 2) and (predictions[..., 1] > 0).all()


# --- tf:oracle -----------------------------------------------------------------------


def test_tf_oracle_is_an_exact_fixed_graph_on_adding():
    task = Adding(seq_len=300)
    model = built("tf:oracle", task)
    assert model._trainer.network.is_graph
    assert not model._trainer.trainable
    examples = examples_of(task, count=500)
    assert task.score(model.predict(examples.inputs), examples.targets)["mse"] < 1e-10


def test_tf_oracle_is_the_exact_gp_posterior_as_a_fixed_graph():
    task = GPPairs(length=60, context=15)
    model = built("tf:oracle", task)
    network = model._trainer.network
    assert network.is_graph and not model._trainer.trainable
    inputs = examples_of(task, count=300).inputs
    graph = network.infer(tf.constant(inputs))
    assert graph.dtype == tf.float64
    np.testing.assert_allclose(graph.numpy(), task.solve(inputs), rtol=0, atol=1e-9)
    np.testing.assert_allclose(model.predict(inputs), task.solve(inputs), rtol=0, atol=1e-9)


def test_tf_oracle_on_gp_pairs_is_exact_at_other_lengths():
    model = built("tf:oracle", GPPairs(length=60, context=15))
    at_length = GPPairs(length=90, context=15)
    inputs = examples_of(at_length, count=20).inputs
    np.testing.assert_allclose(model.predict(inputs), at_length.solve(inputs), rtol=0, atol=1e-9)


@pytest.mark.parametrize("task", [Subsequence(), Polynomial()], ids=["subsequence", "polynomial"])
def test_tf_oracle_is_exact_on_token_tasks(task):
    model = built("tf:oracle", task)
    assert not model._trainer.network.is_graph
    examples = examples_of(task, count=500)
    assert task.score(model.predict(examples.inputs), examples.targets)["exact_match"] == 1.0


@pytest.fixture
def tf32_setting():
    """TensorFlow's TF32 switch, put back as it was: it is process-wide."""
    tf = import_tensorflow()
    before = tf.config.experimental.tensor_float_32_execution_enabled()
    yield tf
    tf.config.experimental.enable_tensor_float_32_execution(before)


def test_fp32_on_a_gpu_turns_tensorflows_tf32_off(tf32_setting):
    # TensorFlow computes fp32 matmuls in TF32 on Ampere and later by default;
    # seqbench-torch runs fp32 in IEEE, so "fp32" must mean the same arithmetic in both.
    from seqbench_tensorflow.loop import use_ieee_fp32

    tf = tf32_setting
    tf.config.experimental.enable_tensor_float_32_execution(True)
    use_ieee_fp32("/GPU:0", "fp32")
    assert tf.config.experimental.tensor_float_32_execution_enabled() is False


@pytest.mark.parametrize(("device", "precision"), [("/CPU:0", "fp32"), ("/GPU:0", "bf16"), ("/GPU:0", "fp16")])
def test_other_devices_and_precisions_leave_tf32_as_it_was(tf32_setting, device, precision):
    from seqbench_tensorflow.loop import use_ieee_fp32

    tf = tf32_setting
    tf.config.experimental.enable_tensor_float_32_execution(True)
    use_ieee_fp32(device, precision)
    assert tf.config.experimental.tensor_float_32_execution_enabled() is True
