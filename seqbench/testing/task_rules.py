"""The task contract as executable rules. Each raises ContractViolation saying what to fix."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import numpy as np

from seqbench.data import SPLITS
from seqbench.params import param_specs
from seqbench.task import Examples, Signature, Task
from seqbench.testing.child import ChildError, OtherProcess
from seqbench.testing.contract import ContractViolation, calling, check_answer, describe, is_finite_number

__all__ = [
    "TASK_RULES",
    "generate",
    "check_task_declaration",
    "check_task_determinism",
    "check_task_splits_disjoint",
    "check_task_signature",
    "check_task_oracle",
    "check_task_scoring",
    "check_task_position_scoring",
    "check_task_scores_narrow_predictions",
    "check_task_pickling",
]

INPUT_KINDS = ("continuous", "tokens")
TARGET_KINDS = ("scalar", "tokens", "gaussian")
SMALL = 256  # examples per check
DISJOINT = {"train": 2048, "validation": 1024, "test": 1024}


def _int_at_least(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _subject(task: Any) -> str:
    return f"task {getattr(task, 'name', type(task).__name__)!r}"


def generate(task: Task, count: int, seed: int, split: str) -> Examples:
    """``count`` examples of ``split`` from the random stream the harness would give it."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(SPLITS.index(split), 0)))
    with calling(f"{type(task).__name__}.generate({count}, rng, split={split!r})"):
        examples = task.generate(count, rng, split=split)
    inputs, targets = getattr(examples, "inputs", None), getattr(examples, "targets", None)
    if not isinstance(inputs, np.ndarray) or not isinstance(targets, np.ndarray):
        got = f"inputs {describe(inputs)}, targets {describe(targets)}"
        raise ContractViolation(
            "signature", _subject(task), f"generate returned {type(examples).__name__} with {got}",
            "return seqbench.Examples(inputs, targets) holding NumPy arrays",
        )
    return examples


def check_task_declaration(cls: type[Task]) -> None:
    """A dataclass with a name, a primary metric among its metrics, a direction, and
    declared parameters that the smoke overrides and length_param refer to."""
    subject = f"task {getattr(cls, 'name', cls.__name__)!r}"
    rule = "declaration"
    if not dataclasses.is_dataclass(cls):
        raise ContractViolation(
            rule, subject, f"{cls.__name__} is not a dataclass",
            "decorate it with @dataclass: its fields are its parameters",
        )
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name or name != name.strip():
        raise ContractViolation(
            rule, subject, f"name is {name!r}", "set name to a short string, e.g. 'reverse'"
        )
    if cls.direction not in ("min", "max"):
        raise ContractViolation(
            rule, subject, f"direction is {cls.direction!r}",
            "set direction = 'min' (lower is better) or 'max' (higher is better)",
        )
    primary = getattr(cls, "primary_metric", None)
    if not isinstance(primary, str) or not primary:
        raise ContractViolation(
            rule, subject, f"primary_metric is {primary!r}", "name the metric that ranks models"
        )
    if cls.metrics and primary not in cls.metrics:
        raise ContractViolation(
            rule, subject, f"primary_metric {primary!r} is not among metrics {tuple(cls.metrics)}",
            "list every metric score() returns in metrics, the primary one included",
        )
    with calling(f"param_specs({cls.__name__})"):
        declared = [spec.name for spec in param_specs(cls)]
    if cls.length_param is not None and cls.length_param not in declared:
        raise ContractViolation(
            rule, subject, f"length_param {cls.length_param!r} is not a parameter; parameters: {declared}",
            "set length_param to the parameter that sets sequence length, or None",
        )
    unknown = sorted(set(cls.smoke) - set(declared))
    if unknown:
        raise ContractViolation(
            rule, subject, f"smoke sets {unknown[0]!r}, which is not a parameter; parameters: {declared}",
            "smoke maps parameter names to the values --smoke uses",
        )


def _check_signature_fields(task: Task) -> Signature:
    subject, rule = _subject(task), "signature"
    with calling(f"{type(task).__name__}.signature"):
        signature = task.signature
    if not isinstance(signature, Signature):
        raise ContractViolation(
            rule, subject, f"signature is {describe(signature)}", "return a seqbench.Signature"
        )
    problems = []
    if signature.inputs not in INPUT_KINDS:
        problems.append(f"inputs={signature.inputs!r} (allowed: {', '.join(INPUT_KINDS)})")
    if signature.targets not in TARGET_KINDS:
        problems.append(f"targets={signature.targets!r} (allowed: {', '.join(TARGET_KINDS)})")
    if not _int_at_least(signature.input_length, 1):
        problems.append(f"input_length={signature.input_length!r} (an int >= 1)")
    if signature.inputs == "tokens" and not _int_at_least(signature.input_vocab, 2):
        problems.append(f"input_vocab={signature.input_vocab!r} (token inputs need an int >= 2)")
    if signature.targets in ("tokens", "gaussian") and not _int_at_least(signature.target_length, 1):
        problems.append(
            f"target_length={signature.target_length!r} ({signature.targets} targets need an int >= 1)"
        )
    if signature.targets == "tokens" and not _int_at_least(signature.target_vocab, 2):
        problems.append(f"target_vocab={signature.target_vocab!r} (token targets need an int >= 2)")
    if signature.end_id is not None and not (
        signature.targets == "tokens" and 0 < signature.end_id < (signature.target_vocab or 0)
    ):
        problems.append(f"end_id={signature.end_id!r} (token targets only, 1..target_vocab-1; 0 is PAD_ID)")
    if problems:
        raise ContractViolation(
            rule, subject, "signature has " + "; ".join(problems),
            "see the Signature fields in docs/plugins.md",
        )
    return signature


def check_task_signature(task: Task) -> None:
    """Every split generates exactly ``count`` examples whose arrays have the shapes,
    dtypes and token ranges the signature declares."""
    signature = _check_signature_fields(task)
    subject, rule = _subject(task), "signature"
    for split in SPLITS:
        examples = generate(task, SMALL, seed=0, split=split)
        where = f"generate({SMALL}, rng, split={split!r})"
        if len(examples.inputs) != SMALL or len(examples.targets) != SMALL:
            raise ContractViolation(
                rule, subject,
                f"{where} returned {len(examples.inputs)} inputs and {len(examples.targets)} targets",
                "return exactly `count` examples",
            )
        _check_inputs(task, signature, examples.inputs, where)
        _check_targets(task, signature, examples.targets, where)


def _check_inputs(task: Task, signature: Signature, inputs: np.ndarray, where: str) -> None:
    subject, rule = _subject(task), "signature"
    if signature.inputs == "continuous":
        expected: tuple[int | None, ...] = (len(inputs), signature.input_length, signature.input_features)
        if inputs.shape != expected:
            raise ContractViolation(
                rule, subject, f"{where}: inputs have shape {inputs.shape}; the signature says {expected}",
                "make input_length and input_features describe what generate returns: (N, length, features)",
            )
        if not np.issubdtype(inputs.dtype, np.floating) or not np.all(np.isfinite(inputs)):
            raise ContractViolation(
                rule, subject, f"{where}: continuous inputs must be finite floats, got {inputs.dtype}",
                "generate float32 (or float64) features",
            )
        return
    expected = (len(inputs), signature.input_length)
    if inputs.shape != expected:
        raise ContractViolation(
            rule, subject, f"{where}: token inputs have shape {inputs.shape}; the signature says {expected}",
            "token inputs are (N, input_length), right-padded with PAD_ID (0)",
        )
    _check_token_ids(task, inputs, signature.input_vocab, "input_vocab", where + ": inputs")


def _check_targets(task: Task, signature: Signature, targets: np.ndarray, where: str) -> None:
    subject, rule = _subject(task), "signature"
    kind = signature.targets
    expected = (len(targets),) if kind == "scalar" else (len(targets), signature.target_length)
    if targets.shape != expected:
        raise ContractViolation(
            rule, subject,
            f"{where}: {kind} targets have shape {targets.shape}; the signature says {expected}",
            "scalar targets are (N,); tokens and gaussian targets (N, target_length)",
        )
    if kind == "tokens":
        _check_token_ids(task, targets, signature.target_vocab, "target_vocab", where + ": targets")
    elif not np.issubdtype(targets.dtype, np.floating) or not np.all(np.isfinite(targets)):
        raise ContractViolation(
            rule, subject, f"{where}: {kind} targets must be finite floats, got {targets.dtype}",
            "generate float targets",
        )


def _check_token_ids(task: Task, array: np.ndarray, vocab: int | None, field: str, where: str) -> None:
    subject, rule = _subject(task), "signature"
    assert vocab is not None, f"{field}: _check_signature_fields refuses token signatures without one"
    if not np.issubdtype(array.dtype, np.integer):
        raise ContractViolation(
            rule, subject, f"{where} are token ids of dtype {array.dtype}",
            "store token ids as integers (int32 is what embedding layers take)",
        )
    if array.size and (array.min() < 0 or array.max() >= vocab):
        raise ContractViolation(
            rule, subject, f"{where} hold ids {array.min()}..{array.max()}; {field} is {vocab}",
            f"keep ids in 0..{field}-1 (0 is PAD_ID), or raise {field}",
        )


def check_task_determinism(task: Task) -> None:
    """The same seed gives the same examples; another seed gives other examples."""
    subject, rule = _subject(task), "determinism"
    for split in SPLITS:
        first = generate(task, SMALL, seed=1, split=split)
        again = generate(task, SMALL, seed=1, split=split)
        for part in ("inputs", "targets"):
            a, b = getattr(first, part), getattr(again, part)
            if a.shape != b.shape or not np.array_equal(a, b, equal_nan=np.issubdtype(a.dtype, np.floating)):
                raise ContractViolation(
                    rule, subject, f"two calls with the same seed gave different {split} {part}",
                    "draw every random number from the `rng` argument (never np.random.* or "
                    "random.*), and keep no state that changes between calls",
                )
    other = generate(task, SMALL, seed=2, split="train")
    if np.array_equal(first.inputs, other.inputs):
        raise ContractViolation(
            rule, subject, "seeds 1 and 2 gave identical inputs",
            "draw from the `rng` argument instead of a generator of your own with a fixed seed",
        )


def _rows(array: np.ndarray) -> set[bytes]:
    array = np.ascontiguousarray(array)
    return {row.tobytes() for row in array.reshape(len(array), -1)}


def check_task_splits_disjoint(task: Task) -> None:
    """No input appears in two of train, validation and test."""
    subject, rule = _subject(task), "disjoint-splits"
    rows = {
        split: _rows(generate(task, count, seed=0, split=split).inputs)
        for split, count in DISJOINT.items()
    }
    for first, second in (("train", "validation"), ("train", "test"), ("validation", "test")):
        shared = rows[first] & rows[second]
        if shared:
            raise ContractViolation(
                rule, subject,
                f"{len(shared)} distinct inputs appear in both {first} and {second} "
                f"({DISJOINT[first]} and {DISJOINT[second]} examples, seed 0)",
                "when inputs can repeat, give each possible input to one split (e.g. by a hash "
                "of the input, computed with NumPy, not Python's hash()) and let generate draw "
                "only the inputs of the split it is asked for",
            )


def check_task_oracle(task: Task) -> None:
    """``solve`` answers in the declared shape and reproduces the targets exactly
    (scalar and token targets); for gaussian targets no nudge of its mean or variance
    scores better."""
    subject, rule = _subject(task), "oracle"
    examples = generate(task, SMALL, seed=0, split="test")
    with calling(f"{type(task).__name__}.solve(inputs)"):
        answer = task.solve(examples.inputs)
    answer = check_answer(rule, subject, task, answer, SMALL, "solve(inputs)")
    kind = task.signature.targets
    if kind == "tokens":
        wrong = np.flatnonzero(np.any(answer != examples.targets, axis=1))
    elif kind == "scalar":
        close = np.isclose(answer, examples.targets, rtol=1e-9, atol=1e-12)
        wrong = np.flatnonzero(~close)
    else:
        _check_gaussian_floor(task, answer, examples.targets)
        return
    if len(wrong):
        first = wrong[0]
        raise ContractViolation(
            rule, subject,
            f"solve(inputs) differs from the generated targets in {len(wrong)} of {SMALL} "
            f"examples (example {first}: solve gave {answer[first].tolist()}, the target is "
            f"{examples.targets[first].tolist()})",
            "generate's targets must be the exact answers: build them with solve(inputs)",
        )


def _check_gaussian_floor(task: Task, answer: np.ndarray, targets: np.ndarray) -> None:
    mean, variance = answer[..., 0], answer[..., 1]
    spread = np.sqrt(variance)
    nudges = {
        "mean + 0.5 sd": np.stack([mean + 0.5 * spread, variance], axis=-1),
        "mean - 0.5 sd": np.stack([mean - 0.5 * spread, variance], axis=-1),
        "variance x 2": np.stack([mean, variance * 2], axis=-1),
        "variance / 2": np.stack([mean, variance / 2], axis=-1),
    }
    exact = _primary(task, answer, targets)
    for label, nudged in nudges.items():
        value = _primary(task, nudged, targets)
        if task.better(value, exact):
            raise ContractViolation(
                "oracle", _subject(task),
                f"the oracle's {task.primary_metric} is {exact:.6g}, but with its {label} it is "
                f"{value:.6g} ({'lower' if task.direction == 'min' else 'higher'} is better)",
                "solve must return the exact predictive mean and variance of the targets",
            )


def _primary(task: Task, predictions: np.ndarray, targets: np.ndarray) -> float:
    with calling(f"{type(task).__name__}.score(predictions, targets)"):
        return float(task.score(predictions, targets)[task.primary_metric])


def wrong_answer(task: Task, answer: np.ndarray) -> np.ndarray:
    """An answer that is wrong everywhere, shaped like ``answer``."""
    kind = task.signature.targets
    if kind == "tokens":
        return (answer + 1) % task.signature.target_vocab
    if kind == "scalar":
        return answer + 1.0 + np.abs(answer)
    mean, variance = answer[..., 0], answer[..., 1]
    return np.stack([mean + 3.0 * np.sqrt(variance), variance], axis=-1)


def _answers(task: Task) -> tuple[Examples, list[tuple[str, np.ndarray]]]:
    """A test sample and what the scoring rules score on it: the exact answer and a
    wrong one, each with its label."""
    examples = generate(task, SMALL, seed=0, split="test")
    with calling(f"{type(task).__name__}.solve(inputs)"):
        answer = np.asarray(task.solve(examples.inputs))
    return examples, [("the exact answer", answer), ("a wrong answer", wrong_answer(task, answer))]


def check_task_scoring(task: Task) -> None:
    """``score`` returns every declared metric as a finite number, and its primary metric
    ranks the exact answer above a wrong one in the declared direction."""
    subject, rule = _subject(task), "scoring"
    examples, answers = _answers(task)
    declared = tuple(task.metrics) or (task.primary_metric,)
    scores = {}
    for label, predictions in answers:
        with calling(f"{type(task).__name__}.score(predictions, targets)"):
            result = task.score(predictions, examples.targets)
        if not isinstance(result, dict):
            raise ContractViolation(
                rule, subject, f"score returned {describe(result)}", "return a dict of metric name -> number"
            )
        if set(result) != set(declared):
            missing, extra = sorted(set(declared) - set(result)), sorted(set(result) - set(declared))
            raise ContractViolation(
                rule, subject,
                f"score returned metrics {sorted(result)}; declared metrics are {list(declared)}"
                + (f" (missing {missing})" if missing else "") + (f" (undeclared {extra})" if extra else ""),
                "return exactly the metrics listed in `metrics` (primary_metric included)",
            )
        for name, value in result.items():
            if not is_finite_number(value):
                raise ContractViolation(
                    rule, subject, f"score for {label}: {name} = {value!r}",
                    "every metric must be a finite real number (float(...) it)",
                )
        scores[label] = float(result[task.primary_metric])
    exact, wrong = scores["the exact answer"], scores["a wrong answer"]
    if not task.better(exact, wrong):
        better = "lower" if task.direction == "min" else "higher"
        flipped = "max" if task.direction == "min" else "min"
        fix = (
            f"if the exact answer should be {'higher' if flipped == 'max' else 'lower'}, set "
            f"direction = {flipped!r}"
            if exact != wrong
            else f"make {task.primary_metric} tell right answers from wrong ones"
        )
        raise ContractViolation(
            rule, subject,
            f"direction = {task.direction!r} ({better} is better), but {task.primary_metric} is "
            f"{exact:.6g} for the exact answer and {wrong:.6g} for a wrong one",
            fix,
        )


def check_task_scores_narrow_predictions(task: Task) -> None:
    """A task with token targets and a length parameter scores predictions narrower than
    its targets (a model built at a shorter length, tested at this one), counting the
    positions not answered as wrong: the exact answer cut to half the targets' width
    scores, metric for metric, what the full-width exact answer scores with the cut-off
    positions replaced by tokens wrong everywhere (each target token + 1, modulo
    ``target_vocab``). So a task that pads narrow predictions with a token its targets
    also hold (PAD_ID, where targets are padded) fails: its padded positions score right."""
    signature = task.signature
    if signature.targets != "tokens" or task.length_param is None:
        return
    subject, rule = _subject(task), "narrow-predictions"
    examples, answers = _answers(task)
    answer, targets = answers[0][1], examples.targets
    kept = max(1, targets.shape[1] // 2)
    narrow = np.ascontiguousarray(answer[:, :kept])
    with calling(f"{type(task).__name__}.score(predictions of width {kept}, targets of width {targets.shape[1]})"):
        try:
            result = task.score(narrow, targets)
        except (ValueError, IndexError) as error:
            raise ContractViolation(
                rule, subject,
                f"score refused predictions of shape {narrow.shape} for targets of shape "
                f"{targets.shape}: {type(error).__name__}: {error}",
                "accept predictions narrower than the targets (a model tested at another "
                "length answers with its own width) and count the missing positions as wrong: "
                "predictions = seqbench.task.fit_width(predictions, targets.shape[1])",
            ) from None
    bad = {name: value for name, value in result.items() if not is_finite_number(value)}
    if bad:
        raise ContractViolation(
            rule, subject, f"score of narrower predictions gave {bad}", "return finite metrics for them",
        )
    wrong = (targets + 1) % signature.target_vocab
    filled = np.concatenate([narrow, wrong[:, kept:].astype(narrow.dtype)], axis=1)
    with calling(f"{type(task).__name__}.score(predictions, targets)"):
        reference = task.score(filled, targets)
    differ = {
        name: (float(value), float(reference[name])) for name, value in result.items()
        if name in reference and not np.isclose(float(value), float(reference[name]), rtol=1e-9, atol=1e-12)
    }
    if differ:
        shown = ", ".join(f"{name} = {narrowed:.6g} against {wrong_there:.6g}"
                          for name, (narrowed, wrong_there) in sorted(differ.items()))
        raise ContractViolation(
            rule, subject,
            f"the exact answer cut to width {kept} of {targets.shape[1]} scores differently from "
            f"the full-width exact answer with positions {kept}..{targets.shape[1] - 1} wrong: "
            f"{shown} ({SMALL} test examples, seed 0); the positions not answered must count as wrong",
            "count every position a prediction does not reach as wrong, padding targets "
            "included: predictions = seqbench.task.fit_width(predictions, targets.shape[1]), "
            "which pads with NO_ANSWER (-1); padding with PAD_ID scores it right wherever "
            "the target is padding",
        )


def check_task_position_scoring(task: Task) -> None:
    """When ``score_positions`` gives metrics (not None), each is one finite number per
    target position, for the exact answer and for a wrong one."""
    subject, rule = _subject(task), "position-scoring"
    examples, answers = _answers(task)
    targets = examples.targets
    positions = targets.shape[1] if targets.ndim == 2 else None
    for label, predictions in answers:
        with calling(f"{type(task).__name__}.score_positions(predictions, targets)"):
            result = task.score_positions(predictions, targets)
        if result is None:
            continue
        where = f"score_positions for {label}"
        if not isinstance(result, dict) or not result:
            raise ContractViolation(
                rule, subject, f"{where} returned {'an empty dict' if isinstance(result, dict) else describe(result)}",
                "return a dict of metric name -> one value per target position, or None (no such metrics)",
            )
        if positions is None:
            raise ContractViolation(
                rule, subject, f"{where} returned metrics {sorted(map(str, result))}, but "
                f"{task.signature.targets} targets have no positions",
                "return None: only sequence targets (tokens, gaussian) have per-position metrics",
            )
        for name, values in result.items():
            array = np.asarray(values)
            if not isinstance(name, str) or not name:
                raise ContractViolation(rule, subject, f"{where}: a metric is named {name!r}",
                                        "name each metric with a non-empty string")
            if array.shape != (positions,):
                raise ContractViolation(
                    rule, subject,
                    f"{where}: {name} has shape {array.shape}; the targets have {positions} "
                    f"positions, so ({positions},)",
                    "average over the examples (axis 0) only: one value per target position",
                )
            real = np.issubdtype(array.dtype, np.number) and array.dtype != np.bool_
            if not real or not np.all(np.isfinite(array)):
                bad = "not real numbers" if not real else f"{int(np.sum(~np.isfinite(array)))} non-finite values"
                raise ContractViolation(
                    rule, subject, f"{where}: {name} has {bad}",
                    "every value must be a finite real number (seqbench stores others as missing)",
                )


def check_task_pickling(task: Task, other: OtherProcess) -> None:
    """The task pickles, and its copy in another process (other hash seed) generates the
    same examples and solves them the same way."""
    subject, rule = _subject(task), "pickling"
    try:
        blob = pickle.dumps(task)
    except Exception as error:
        raise ContractViolation(
            rule, subject, f"pickle.dumps failed: {type(error).__name__}: {error}",
            "keep only picklable values on the instance (no lambdas, locks, open files); "
            "build heavy state lazily, e.g. with functools.cached_property",
        ) from None
    try:
        inputs, targets, solved = other.generate(blob, SMALL, 3, "test")
    except ChildError as error:
        raise ContractViolation(
            rule, subject, f"in another process: {error}",
            "define the class at module level in an importable module, and keep its state picklable",
        ) from None
    here = generate(task, SMALL, seed=3, split="test")
    with calling(f"{type(task).__name__}.solve(inputs)"):
        solved_here = np.asarray(task.solve(here.inputs))
    compared = (
        ("inputs", inputs, here.inputs),
        ("targets", targets, here.targets),
        ("solve(inputs)", solved, solved_here),
    )
    for part, there, mine in compared:
        if there.shape != mine.shape or not np.array_equal(there, mine):
            raise ContractViolation(
                rule, subject, f"another process made different {part} from the same seed",
                "avoid Python's hash() (it changes per process: PYTHONHASHSEED), set iteration "
                "order, and state that pickling drops; derive everything from the parameters and `rng`",
            )


TASK_RULES = {
    "declaration": check_task_declaration,
    "signature": check_task_signature,
    "determinism": check_task_determinism,
    "disjoint-splits": check_task_splits_disjoint,
    "oracle": check_task_oracle,
    "scoring": check_task_scoring,
    "position-scoring": check_task_position_scoring,
    "narrow-predictions": check_task_scores_narrow_predictions,
    "pickling": check_task_pickling,
}
