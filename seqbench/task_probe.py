"""Whether a task's parameters make examples it can answer, asked while a suite
validates, before anything is written.

A task declares lower bounds for its parameters, rarely upper ones, and some values
within them fail only once data are made: a vocabulary past int32's token ids, a
length that no memory holds, a Gaussian process whose covariance overflows. Found in
a worker, each was a failed point in the store and exit code 1; found here, it is one
line naming the file and the task, exit code 2, and nothing written. The probe makes
two examples, has the task answer them itself (``solve``, its oracle) and scores the
answer: a primary metric that is not finite for the task's own answer means the
parameters leave the range the task computes in.

Before making anything, the signature's size is checked: one example of more than
``MAX_EXAMPLE_VALUES`` values would take gigabytes in the probe itself, and no point
could train on a chunk of such examples.

Token ids have a contract the oracle cannot check: they are ids 0..vocab-1 of the
signature's ``input_vocab`` / ``target_vocab``, and they fit int32 (``MAX_TOKEN_VOCAB``
ids), which embedding layers (torch, TensorFlow) and the tasks' own arrays take. A
task that writes an int64 id past int32 into an int32 array does not fail: NumPy's
array assignment wraps it to a negative id (only a Python int raises OverflowError),
and the task's ``solve``, reading the same wrapped ids, still scores 1. So the
signature's vocabularies are checked before anything is made, and the ids made (inputs,
targets and the task's own answer) after: the first failure otherwise was the first
model to index a table with them (numpy:lookup: "negative dimensions").

Every split a point uses is probed, not only the train split: a token task assigns each
possible input to one split by its hash, and a short length or a small vocabulary can
leave the validation or test split owning none (parity at lengths 1, 2, 3 and 5), which
failed every point. So the probe makes and answers two examples of each of train,
validation and test at the training length, and two test examples at each of
``run.eval_lengths`` (``splits``, ``eval_length``): more of each split but train for a
token task (below). Each distinct configuration is
probed once (seqbench.suite keeps the keys), one split at a time.

A split owning a few inputs is as useless as one owning none, and silently so: parity
at length 4 gave validation 1 distinct string, modular arithmetic at length 3 modulus 2
gave test two inputs of one answer (a constant answer scored 100%). So for a task with
token inputs, each split other than train is probed with a larger sample,
``DISTINCT_SAMPLE`` (256) examples, or as many as ``DISTINCT_SAMPLE_VALUES`` (2**24
values, 64 MiB of int32) hold where examples are long, and refused when it holds fewer
than ``FEWEST_DISTINCT`` (16) distinct examples (input and target together), a quarter
of the sample where the sample is smaller. The threshold cannot refuse a split that owns
many inputs by chance: 256 draws from K equally likely examples give fewer than 16
distinct with probability at most C(K, 15) (15/K)^256: below 1e-75 for every K >= 32
(1e-27 at K = 20), and for K in the thousands a sample is all but all distinct (the
draws need not be uniform, but a task putting most of its mass on under 16 of its
inputs is the same handful). What it refuses is a split
owning fewer than about 16 examples: figures over it measure a handful of inputs. The
first ``FIRST_DISTINCT_SAMPLE`` (32) examples are drawn first, and a split holding 16
distinct among them passes there; only one that does not is drawn to the whole sample
and judged on it (so the bound above holds, and a split with inputs to spare costs 32
examples: 256 at length 8000 took 1.3 GB). The draws are seeded, so a configuration is
always refused or always passed. A split whose
examples the user supplied (``Task.fixed_examples``: polynomial's ``data_file`` lines)
is not refused: however few, they are the user's choice.

A split's size is checked from the signature alone, before anything is made:
``check_split_size`` refuses a split of more than ``MAX_SPLIT_VALUES`` values (its
examples times the values of one).

Who is to blame. The examples made are first held to the contract every chunk a point
makes is held to (``seqbench.plugin_output.checked_examples``: Examples of NumPy arrays,
as many as asked for, of the signature's shapes and dtype kinds): a task whose examples
break it is a broken plugin at any parameters, a ``PluginFailure`` naming the task, its
plugin and distribution (2-D inputs where the signature says (N, L, 1) had failed in
``solve`` and blamed "these parameters"). A failure the parameters may cause (an
exception while making or answering, ids outside the vocabulary, a primary metric that
is not finite) is then judged against the task's defaults: the probe is run again on a
task built from them (only on this path, so a passing suite pays nothing). Defaults
that fail too, or parameters that are the defaults, make it the plugin's failure;
defaults that pass leave the user's values refused as before, saying the defaults pass.
A task with a required parameter has no defaults to try: its refusal names both.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections import Counter
from typing import Any, Callable

import numpy as np

from seqbench import registry
from seqbench.data import SPLITS
from seqbench.errors import UserError
from seqbench.params import param_specs
from seqbench.plugin_output import PluginOutputError, checked_examples
from seqbench.plugins import PluginFailure
from seqbench.settings import MAX_SPLIT_EXAMPLES
from seqbench.suite_input import brief
from seqbench.task import Examples, Signature, Task

__all__ = [
    "probe_task", "check_example_size", "check_split_size", "values_per_example", "task_at",
    "MAX_EXAMPLE_VALUES", "MAX_SPLIT_VALUES", "MAX_TOKEN_VOCAB",
]

# 2**26 values: 512 MiB as float64 for one example. The longest sequences benchmarks
# train on today are around a million positions.
MAX_EXAMPLE_VALUES = 2**26
PROBE_EXAMPLES = 2
# An evaluation split of a token task: its sample, capped by its values, and the fewest
# distinct examples it must hold (module docstring).
DISTINCT_SAMPLE = 256
FIRST_DISTINCT_SAMPLE = 32  # drawn first: a split with inputs to spare stops there
DISTINCT_SAMPLE_VALUES = 2**24
FEWEST_DISTINCT = 16
# 2**30 values in one split (its examples times the values of one): 8 GiB as float64.
# Past the data cache (256 MiB) a split is made again chunk by chunk on every pass, and
# an evaluation split's targets and the model's predictions are held whole; a split
# past this would be hours of data making per epoch or a MemoryError on every point.
# The largest shipped suite's split is 300,100,000 values (reproductions/adding_lstm:
# 100,000 examples at T = 1,500).
MAX_SPLIT_VALUES = 2**30
assert MAX_SPLIT_EXAMPLES == MAX_SPLIT_VALUES // 2  # the fewest values an example has: 2
# Ids 0..2**31 - 1: int32, what embedding layers take and what the shipped tasks store.
MAX_TOKEN_VOCAB = 2**31


def values_per_example(signature: Signature) -> int:
    """The values one example holds: its inputs (length x features) and its targets."""
    inputs = signature.input_length * max(signature.input_features, 1)
    return inputs + (signature.target_length or 1)


def task_at(task: Task, params: dict[str, Any], swept: set[str],
            eval_length: tuple[str, int] | None = None) -> str:
    """How messages name a task configuration: ``[task] parity``, with the swept values
    (``at [sweep] task.length = 3``) and the evaluation length (``at [run] eval_lengths
    length 5``) that chose it."""
    shown = ", ".join(f"task.{key} = {brief(params[key])}" for key in sorted(params) if key in swept)
    at = f"[task] {task.name}" + (f" at [sweep] {shown}" if shown else "")
    if eval_length is not None:
        key, length = eval_length
        at += f" at {key} length {brief(length)}"
    return at


def check_example_size(where: str, at: str, signature: Signature) -> int:
    """The values one example holds, refused (UserError) past MAX_EXAMPLE_VALUES: from
    the signature alone, before anything is made."""
    size = values_per_example(signature)
    if size > MAX_EXAMPLE_VALUES:
        raise UserError(
            f"{where}: {at}: would make examples of {size:,} values each (input length "
            f"{signature.input_length:,}); allowed: at most {MAX_EXAMPLE_VALUES:,} values an example"
        )
    return size


def check_split_size(where: str, key: str, count: int, at: str, size: int) -> None:
    """``count`` examples of ``size`` values within MAX_SPLIT_VALUES, else UserError.
    ``key`` is the run setting that asked for them (``[run] train_size``, ``[sweep]
    run.eval_size``), ``at`` the task configuration (``task_at``)."""
    if count * size > MAX_SPLIT_VALUES:
        setting = key.rsplit(".", 1)[-1].split()[-1]
        raise UserError(
            f"{where}: {key} = {count:,} with {at} ({size:,} values an example) makes a split of "
            f"{count * size:,} values; allowed: at most {MAX_SPLIT_VALUES:,} values a split "
            f"(examples x values an example): {setting} at most {MAX_SPLIT_VALUES // size:,} "
            "here, or shorter sequences"
        )


def _parameters(params: dict[str, Any]) -> str:
    shown = ", ".join(f"{key} = {brief(value)}" for key, value in sorted(params.items()))
    return shown if len(shown) <= 300 else shown[:280] + " ..."


def probe_task(where: str, task: Task, signature: Signature, params: dict[str, Any], swept: set[str],
               splits: tuple[str, ...] = SPLITS, eval_length: tuple[str, int] | None = None) -> None:
    """Refuse (UserError) parameters with which ``task`` cannot make and answer two
    examples of each of ``splits``, or, for a task with token inputs, with which a split
    other than train holds fewer than FEWEST_DISTINCT distinct examples; refuse the task
    (PluginFailure) when what it makes breaks its signature, or when it fails the same
    way at its default parameters (module docstring: who is to blame).

    ``params`` are the task's parameters as resolved, ``swept`` the ones a sweep chose:
    the message names them, since the same [task] table is fine at other values.
    ``eval_length``: (the key that asked for it, the length) when ``task`` is the task
    at one of ``run.eval_lengths``, of which the run uses the test split only."""
    at = task_at(task, params, swept, eval_length)
    check_example_size(where, at, signature)
    _check_vocabularies(where, at, task, signature)
    for split in splits:
        # One split at a time: only one split's examples are held at once.
        try:
            _probe_split(where, at, task, signature, params, split, first=split == "train")
        except _Failed as failed:
            raise _blamed(where, at, task, params, split, failed) from None


class _Failed(Exception):
    """What the probe found at some parameters that they, or the plugin, may be to blame
    for: ``problem`` says it without naming them (``making and answering two examples
    failed (...)``); ``refusal(defaults_pass)`` is the UserError blaming the parameters,
    worded for defaults that pass (True) or that could not be probed (False)."""

    def __init__(self, problem: str, refusal: Callable[[bool], UserError]) -> None:
        super().__init__(problem)
        self.problem, self.refusal = problem, refusal


def _blamed(where: str, at: str, task: Task, params: dict[str, Any], split: str, failed: _Failed) -> UserError:
    """The user's parameters when the task's defaults pass the probe that ``params``
    failed; the plugin when the defaults fail it too (or ``params`` are the defaults);
    both, as before, when the defaults cannot be probed (a required parameter)."""
    defaults = _default_parameters(type(task))
    if defaults is None:
        return failed.refusal(False)
    if params != defaults:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                default_task = type(task)()
                signature = default_task.signature
            if not isinstance(signature, Signature):
                return failed.refusal(False)
            at_defaults = task_at(default_task, defaults, set())
            check_example_size(where, at_defaults, signature)
            _check_vocabularies(where, at_defaults, default_task, signature)
            _probe_split(where, at_defaults, default_task, signature, defaults, split, first=split == "train")
        except _Failed as also:
            failed = also
        except PluginFailure as broken:
            return broken  # its examples at the defaults break its signature: broken anyway
        except Exception:  # the defaults cannot be judged (a file they name is not there, say)
            return failed.refusal(False)
        else:
            return failed.refusal(True)
    return _broken(where, at, task.name, f"at its default parameters {failed.problem}")


def _default_parameters(cls: type) -> dict[str, Any] | None:
    """A task class's parameters at their defaults, as a suite's point holds them (unset
    ones left out); None when a parameter has no default."""
    try:
        specs = param_specs(cls)
    except Exception:  # a default its own declaration refuses: nothing to compare with
        return None
    if any(spec.required for spec in specs):
        return None
    return {spec.name: spec.default for spec in specs if spec.default is not None}


def _broken(where: str, at: str, task_name: str, problem: str) -> PluginFailure:
    """The task's plugin is broken: one line naming the task, its plugin and distribution
    (as ``Registry.call`` and the pipeline name them)."""
    return PluginFailure(f"{where}: {at}: task {task_name!r}{registry.tasks().owner_of(task_name)} is broken: {problem}")


def _probe_split(where: str, at: str, task: Task, signature: Signature, params: dict[str, Any],
                 split: str, first: bool) -> None:
    # The train split's failure is the parameters' (any split would fail alike); another
    # split's, once train could be made, is that split owning too few of the possible
    # inputs (an evaluation length's test split is probed alone: the same cause).
    def failed(error: Exception) -> _Failed:
        if first:
            return _failed(where, at, error)
        return _split_failed(where, at, split, params, error)

    rng = np.random.default_rng(0)
    # The contract every chunk a point makes is held to (seqbench.data), before anything
    # reads the examples: a task whose examples break it is broken at any parameters.
    # Token ids are left to _check_token_ids, which tells wrapped ids and whose they are.
    contract = dataclasses.replace(signature, input_vocab=None, target_vocab=None)

    def made(count: int) -> Examples:
        try:
            # The overflow warnings on the way to a failure are that failure's detail:
            # the message below says it once.
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                drawn = task.generate(count, rng, split=split)
        except Exception as error:  # any failure here is the same failure every point would meet
            raise failed(error) from None
        try:
            examples = checked_examples(task.name, drawn, count, contract, f"generate({count}, rng, split={split!r})")
        except PluginOutputError as error:
            raise _broken(where, at, task.name, error.problem) from None
        # Before solving and scoring: wrapped ids are the cause, whatever those then make of them.
        _check_token_ids(where, at, task, signature, {"inputs": examples.inputs, "targets": examples.targets})
        return examples

    counted = not first and signature.inputs == "tokens" and not _fixed_examples(task, split)
    count = _sample_size(signature, first)
    # The distinct examples are counted on a first draw, and only a split that holds too
    # few of them there is drawn to the whole sample, on which alone it may be refused:
    # a split with inputs to spare costs a few dozen examples, not DISTINCT_SAMPLE of
    # them (at length 8000, 256 of a token task's examples took 1.3 GB to make).
    examples = made(min(count, FIRST_DISTINCT_SAMPLE) if counted else count)
    if counted and _distinct(examples) < FEWEST_DISTINCT and len(examples.inputs) < count:
        more = made(count - len(examples.inputs))
        whole = Examples(np.concatenate([examples.inputs, more.inputs]),
                         np.concatenate([examples.targets, more.targets]))
        _check_distinct(where, at, split, params, whole.inputs, whole.targets)
    elif counted:
        _check_distinct(where, at, split, params, examples.inputs, examples.targets)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            answer = task.solve(examples.inputs)
            metrics = task.score(answer, examples.targets)
            primary = float(metrics[task.primary_metric])
            answer = np.asarray(answer)
    except Exception as error:
        raise failed(error) from None
    _check_token_ids(where, at, task, signature, {"its own answer": answer})
    if not math.isfinite(primary):
        scored = f"{task.primary_metric} = {primary}" + ("" if first else f" on its {split} split")

        def refusal(defaults_pass: bool) -> UserError:
            return UserError(
                f"{where}: {at}: with these parameters the task scores its own exact answer {scored}"
                + (" (its default parameters pass)" if defaults_pass else "")
                + ": they leave the range its arithmetic holds; allowed: more moderate values"
            )

        raise _Failed(f"it scores its own exact answer {scored}", refusal)


def _fixed_examples(task: Task, split: str) -> bool:
    try:
        return bool(task.fixed_examples(split))
    except Exception:  # a plugin's broken answer: check the split as any other
        return False


def _sample_size(signature: Signature, first: bool) -> int:
    """Examples the probe makes of one split: two, or for an evaluation split of a token
    task enough to count its distinct examples, within DISTINCT_SAMPLE_VALUES."""
    if first or signature.inputs != "tokens":
        return PROBE_EXAMPLES
    fit = DISTINCT_SAMPLE_VALUES // values_per_example(signature)
    return max(PROBE_EXAMPLES, min(DISTINCT_SAMPLE, fit))


def _distinct(examples: Examples) -> int:
    return len(set(zip(_rows(examples.inputs), _rows(examples.targets))))


def _rows(array: np.ndarray) -> list[bytes]:
    array = np.ascontiguousarray(array)
    return [row.tobytes() for row in array.reshape(len(array), -1)]


def _check_distinct(where: str, at: str, split: str, params: dict[str, Any],
                    inputs: np.ndarray, targets: np.ndarray) -> None:
    """Refuse a split whose sample holds fewer than FEWEST_DISTINCT distinct (input,
    target) examples (a quarter of a smaller sample)."""
    drawn = len(inputs)
    needed = min(FEWEST_DISTINCT, drawn // 4)
    distinct = len(set(zip(_rows(inputs), _rows(targets))))
    if distinct >= needed:
        return
    commonest = Counter(_rows(targets)).most_common(1)[0][1] / drawn
    raise UserError(
        f"{where}: {at}: its {split} split holds only {distinct} distinct "
        f"example{'' if distinct == 1 else 's'} (input and target) in {drawn} "
        f"drawn with {_parameters(params)} (the commonest answer is {commonest:.0%} of them), "
        "so its figures would measure a handful of inputs; allowed: values that leave the "
        f"{split} split at least {needed} distinct examples of {drawn}: a split owns a share of "
        "the possible inputs, so longer sequences or a larger vocabulary"
    )


def _split_failed(where: str, at: str, split: str, params: dict[str, Any], error: Exception) -> _Failed:
    raised = f"{type(error).__name__}: {_first_line(error)}"

    def refusal(defaults_pass: bool) -> UserError:
        return UserError(
            f"{where}: {at}: its {split} split cannot be made with {_parameters(params)} ({raised}), so "
            f"every point would fail{_DEFAULTS_PASS if defaults_pass else ''}; allowed: values that leave "
            "each split (train, validation, test) inputs of its own: a split owns a share of the possible "
            "inputs, so longer sequences or a larger vocabulary"
        )

    return _Failed(f"its {split} split cannot be made ({raised})", refusal)


def _failed(where: str, at: str, error: Exception) -> _Failed:
    raised = f"{type(error).__name__}: {_first_line(error)}"

    def refusal(defaults_pass: bool) -> UserError:
        return UserError(
            f"{where}: {at}: making and answering two examples with these parameters failed ({raised})"
            f"{_DEFAULTS_PASS if defaults_pass else ''}; allowed: values the task can compute with "
            f"(smaller or more moderate ones){'' if defaults_pass else ', else its plugin is broken'}"
        )

    return _Failed(f"making and answering two examples failed ({raised})", refusal)


_DEFAULTS_PASS = " (its default parameters pass)"


_SIDES = {"inputs": ("inputs", "input_vocab"), "targets": ("targets", "target_vocab"),
          "its own answer": ("targets", "target_vocab")}


def _vocabulary(signature: Signature, side: str) -> tuple[str, int | None] | None:
    """(field, value) of the vocabulary a side's ids must stay below; None for a side
    that is not tokens."""
    kind, field = _SIDES[side]
    if getattr(signature, kind) != "tokens":
        return None
    return field, getattr(signature, field)


def _check_vocabularies(where: str, at: str, task: Task, signature: Signature) -> None:
    for side in ("inputs", "targets"):
        declared = _vocabulary(signature, side)
        if declared is None:
            continue
        field, vocab = declared
        if isinstance(vocab, bool) or not isinstance(vocab, int) or vocab < 1:
            raise _broken(where, at, task.name, f"its signature's {field} is {vocab!r}; token {side} need "
                                                "a vocabulary (an int >= 1)")
        if vocab > MAX_TOKEN_VOCAB:
            raise UserError(
                f"{where}: {at}: with these parameters its {field} is {vocab:,}: token ids "
                f"would pass int32's largest, {MAX_TOKEN_VOCAB - 1:,}, which models' embedding "
                f"layers and token arrays hold; allowed: values that keep {field} at most "
                f"{MAX_TOKEN_VOCAB:,} (smaller vocabulary parameters)"
            )


def _check_token_ids(where: str, at: str, task: Task, signature: Signature, arrays: dict[str, np.ndarray]) -> None:
    """Every id in ``arrays`` (a side's name to its array) within 0..vocab-1 of its side:
    ids of another dtype are the plugin's fault, ids outside the range ``_Failed``."""
    for side, array in arrays.items():
        declared = _vocabulary(signature, side)
        if declared is None:
            continue
        field, vocab = declared
        assert isinstance(vocab, int)  # _check_vocabularies refused anything else
        if not np.issubdtype(array.dtype, np.integer):
            raise _broken(where, at, task.name, f"it made {side} of dtype {array.dtype}, not token ids (integers)")
        low, high = (int(array.min()), int(array.max())) if array.size else (0, 0)
        if low < 0 or high >= vocab:
            # A negative id is almost always one past int32 that NumPy wrapped.
            wrapped = " (negative: ids wrapped past int32's largest)" if low < 0 else ""
            made = (f"made {side} with token ids {low:,}..{high:,}{wrapped}, outside "
                    f"0..{field} - 1 = 0..{vocab - 1:,}")

            def refusal(defaults_pass: bool) -> UserError:
                hedge = "" if defaults_pass else ", else its plugin is broken"
                return UserError(f"{where}: {at}: {made}{_DEFAULTS_PASS if defaults_pass else ''}; allowed: "
                                 f"smaller vocabulary parameters{hedge}")

            raise _Failed(f"it {made}", refusal)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else "no message"
