"""What a point checks of plugin output while it runs: each chunk of examples a task
generates and each batch of predictions a model returns, against the task's Signature,
and each epoch a model's loop reports, against the model contract.

NumPy broadcasts what it is given: predictions of shape (1,), (N, 1) or (N - 1,) for N
scalar targets score a number all the same, and a split of 205 examples trains as well
as one of 200. Without these checks a plugin's wrong output is stored as an ``ok``
point with a plausible metric. Each failure names the task or model and its plugin.
(The conformance kit, ``seqbench.testing``, checks the same contract more thoroughly,
at tiny sizes, before a plugin is published; these are the cheap checks every point
can afford: counts, shapes, dtype kinds and token ranges, no pass over float values.)
An epoch report seqbench would store wrongly (epoch 1.5, epoch 1 twice, more epochs than
``run.epochs``, a negative or running-total ``examples_seen``, a number past 64 bits)
fails its point here, before any of it reaches the record or the store.
This module knows no plugins (it is below them); the pipeline adds the plugin's name.
"""

from __future__ import annotations

import numbers
import sys
from typing import Any

import numpy as np

from seqbench.suite_input import brief
from seqbench.task import Examples, Signature

__all__ = ["PluginOutputError", "checked_examples", "check_unchanged", "checked_predictions", "expected_predictions",
           "checked_epoch", "shown"]


class PluginOutputError(RuntimeError):
    """A task's examples or a model's predictions are not what its signature promises.
    Whoever knows the plugins (``seqbench.pipeline``) sets ``owner``, `` of plugin 'x'
    (its-distribution 1.0)``, so the message names the plugin as well."""

    def __init__(self, kind: str, name: str, problem: str) -> None:
        super().__init__(kind, name, problem)
        self.kind, self.name, self.problem = kind, name, problem
        self.owner = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.name!r}{self.owner} is broken: {self.problem}"


def _fail(kind: str, name: str, problem: str) -> PluginOutputError:
    return PluginOutputError(kind, name, problem)


def _is_kind(array: np.ndarray, kind: type) -> bool:
    return bool(np.issubdtype(array.dtype, kind))


def checked_examples(task_name: str, examples: Any, count: int, signature: Signature, where: str) -> Examples:
    """``examples`` (what ``generate(count, ...)`` returned, as ``where`` says) if they
    are ``count`` examples shaped and typed as ``signature`` declares; else
    PluginOutputError naming the task and its plugin."""
    inputs, targets = getattr(examples, "inputs", None), getattr(examples, "targets", None)
    if not isinstance(inputs, np.ndarray) or not isinstance(targets, np.ndarray):
        raise _fail("task", task_name, f"{where} returned {type(examples).__name__}, not "
                                       "Examples(inputs, targets) of NumPy arrays")
    if len(inputs) != count or len(targets) != count:
        raise _fail("task", task_name, f"{where} returned {len(inputs)} inputs and {len(targets)} targets; "
                                       f"expected exactly {count}")
    problem = _inputs_problem(inputs, signature) or _targets_problem(targets, signature)
    if problem:
        raise _fail("task", task_name, f"{where} returned {problem}; its signature is {signature.describe()}")
    return examples if isinstance(examples, Examples) else Examples(inputs, targets)


def check_unchanged(task_name: str, changed: list[np.ndarray], where: str) -> None:
    """PluginOutputError, naming the task and its plugin, when ``generate``'s call
    (``where``) changed arrays it had returned before (``changed``, found by the
    caller): a task filling one buffer on every call overwrites the chunks kept before
    (the cache, a batch joined from several, another split), which would all train and
    score as the last one."""
    if changed:
        raise _fail("task", task_name, f"{where} changed the examples it returned before, which seqbench "
                                       "keeps (one buffer refilled on every call?); return new arrays from every call")


def _inputs_problem(inputs: np.ndarray, signature: Signature) -> str | None:
    count = len(inputs)
    if signature.inputs == "continuous":
        expected: tuple[int | None, ...] = (count, signature.input_length, signature.input_features)
        if inputs.shape != expected or not _is_kind(inputs, np.floating):
            return f"inputs of shape {inputs.shape} and dtype {inputs.dtype}; expected floats of shape {expected}"
        return None
    expected = (count, signature.input_length)
    if inputs.shape != expected or not _is_kind(inputs, np.integer):
        return f"inputs of shape {inputs.shape} and dtype {inputs.dtype}; expected token ids (integers) of shape {expected}"
    return _ids_problem(inputs, signature.input_vocab, "input")


def _targets_problem(targets: np.ndarray, signature: Signature) -> str | None:
    count, kind = len(targets), signature.targets
    expected = (count,) if kind == "scalar" else (count, signature.target_length)
    wanted, what = (np.integer, "token ids (integers)") if kind == "tokens" else (np.floating, "floats")
    if targets.shape != expected or not _is_kind(targets, wanted):
        return f"{kind} targets of shape {targets.shape} and dtype {targets.dtype}; expected {what} of shape {expected}"
    return _ids_problem(targets, signature.target_vocab, "target") if kind == "tokens" else None


def _ids_problem(ids: np.ndarray, vocab: int | None, side: str) -> str | None:
    if vocab is None or not ids.size:
        return None
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high >= vocab:
        return f"{side} token ids from {low} to {high}; {side}_vocab is {vocab} (ids 0..{vocab - 1})"
    return None


def expected_predictions(signature: Signature, count: int) -> str:
    """The shape a model's predictions for ``count`` examples must have, as text."""
    if signature.targets == "scalar":
        return f"({count},) floats, one per example"
    if signature.targets == "tokens":
        return f"({count}, {signature.target_length}) token ids (integers)"
    return f"({count}, {signature.target_length}, 2) floats, a mean and a variance per position"


def checked_predictions(model_name: str, predictions: Any, count: int, signature: Signature) -> np.ndarray:
    """``predictions`` (what ``predict`` returned for a batch of ``count`` examples) as
    an array of seqbench's own, if it has the shape and dtype kind ``signature``
    promises; else PluginOutputError naming the model and its plugin. Token predictions
    may be of any width (a model tested at another length answers with its own); values
    are not checked (a NaN is the metric's to report).

    Always a copy: the caller keeps every batch's answers until the split ends, and a
    model may write each batch into the one buffer it returns every time (or change an
    answer after returning it); what was kept would then be the last batch, repeated."""
    try:
        array = np.array(predictions)
    except (TypeError, ValueError) as error:  # a ragged list
        raise _fail("model", model_name, f"predict() returned {type(predictions).__name__}, not an array "
                                         f"({type(error).__name__}: {error})") from None
    kind = signature.targets
    if kind == "scalar":
        fits = array.shape == (count,) and _is_kind(array, np.floating)
    elif kind == "tokens":
        fits = array.ndim == 2 and len(array) == count and _is_kind(array, np.integer)
    else:
        fits = array.shape == (count, signature.target_length, 2) and _is_kind(array, np.floating)
    if not fits:
        raise _fail("model", model_name, f"predict() returned shape {array.shape} of dtype {array.dtype} "
                                         f"for a batch of {count} examples; expected "
                                         f"{expected_predictions(signature, count)}")
    return array


def shown(value: Any) -> str:
    """A value a plugin handed seqbench, for a one-line message: numbers and text as
    ``brief`` shows them (NumPy scalars as the Python number they hold), anything else
    by its type alone (its ``repr`` is the plugin's code, and may raise or print pages)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return brief(value)
    return f"an object of type {brief(type(value).__name__)}"


def _scalar(value: Any) -> Any:
    """The number a 0-d NumPy array or torch tensor holds (``.item()``: a Python number,
    a bool staying a bool), else ``value`` as it is. Only those two types are asked,
    by their type, not by whether a value has a ``shape``: a plugin's own object is
    judged as it is (its properties may raise anything)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.item() if value.ndim == 0 else value
    torch = sys.modules.get("torch")  # imported by a torch model, never by seqbench
    if torch is not None and isinstance(value, torch.Tensor) and value.dim() == 0:
        return value.item()
    return value


def _integer(value: Any) -> int | None:
    """``value`` as a Python int when it is an integer (Python's or NumPy's, never a bool)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        try:
            return int(value)
        except Exception:  # a class of the plugin's own, registered as Integral
            return None
    return None


def checked_epoch(model_name: str, epoch: Any, train_loss: Any, examples_seen: Any,
                  expected: int, epochs: int, train_size: int) -> tuple[int, float, int]:
    """An ``on_epoch(epoch, train_loss, examples_seen)`` report as Python numbers, if it
    keeps the model contract: ``epoch`` the ``expected`` one (1, then one more each
    call) and at most ``epochs`` (``run.epochs``); ``train_loss`` a real number;
    ``examples_seen`` an int from 0 to ``train_size``, the examples that epoch used (not
    a running total). Else PluginOutputError naming the model and its plugin.

    A loss that is a number but not finite passes: a diverging model is a result the
    pipeline records (NonFiniteResult), not a broken plugin. The bounds keep every
    figure inside 64 bits: epochs are bounded by ``run.epochs``, a suite value, and the
    sum of examples_seen by ``epochs * train_size``.

    A value of one element with no dimensions, a 0-d NumPy array or a 0-d tensor (a
    loss as ``loss.detach()`` or ``loss.cpu().numpy()`` leaves it), is the number it
    holds: ``float()`` reads those, as seqbench did before these checks."""
    epoch, train_loss, examples_seen = _scalar(epoch), _scalar(train_loss), _scalar(examples_seen)
    number = _integer(epoch)
    if number is None:
        raise _fail("model", model_name, f"on_epoch call {expected} reported epoch {shown(epoch)}; "
                                         f"expected the int {expected} (epochs count 1, 2, ...)")
    if number != expected:
        again = f", after epoch {expected - 1}" if expected > 1 else ""
        raise _fail("model", model_name, f"on_epoch call {expected} reported epoch {brief(number)}{again}; "
                                         f"expected epoch {expected} (epochs count 1, 2, ..., one more each call)")
    if number > epochs:
        raise _fail("model", model_name, f"on_epoch reported epoch {number}, past run.epochs = {epochs}; "
                                         "train at most settings.epochs epochs")
    real = isinstance(train_loss, numbers.Real) and not isinstance(train_loss, (bool, np.bool_))
    try:
        loss = float(train_loss) if real else None
    except Exception:  # an int past what a float holds, or a class of the plugin's own
        loss = None
    if loss is None:
        raise _fail("model", model_name, f"epoch {number} reported train_loss {shown(train_loss)}; "
                                         "expected the epoch's mean training loss, a float")
    seen = _integer(examples_seen)
    if seen is None or not 0 <= seen <= train_size:
        raise _fail("model", model_name, f"epoch {number} reported examples_seen {shown(examples_seen)}; "
                                         f"expected the int count of training examples that epoch used, "
                                         f"0 to {train_size} (the training split; not a running total)")
    return number, loss, seen
