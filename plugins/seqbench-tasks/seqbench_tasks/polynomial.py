"""Polynomial expansion: the polynomial-expansion Transformer experiment.

The input is a product of linear factors, the target its expansion, both as text in
the original data's exact format (SymPy's printing; see ``polynomial_format``):
``(21-5*c)*(3*c-7)`` -> ``-15*c**2+98*c-147``, ``-5*h*(5-2*h)`` -> ``10*h**2-25*h``.
Both are token sequences over one fixed vocabulary (``polynomial_tokens``): a token
per digit, letter, function name and operator, then EOS, then PAD.

The defaults reproduce the original data (1,000,000 lines from an interview
assignment, never published with its generator) as far as its published samples
and statistics tell:
  * two factors ``a*X + b``; a from -9..8 without 0 and b from -32..31 (the samples
    show -9 and -32 but never 9 or 32, as numpy's ``randint(-9, 9)`` would draw, and
    the longest lines, 29 and 28 characters, are exactly what these ranges allow);
  * a factor's X coefficient is 1 (written plain ``x``) with probability 1/5, else
    uniform over -9..8 without 0, so a = 1 in a quarter of the factors (0.247). The
    original's token counts over all 1,000,000 lines are published (the data
    exploration of jaymody/seq2seq-polynomial): with a uniform (1 in 17 factors),
    the factored side has 18% too few ``+``, 15% too many ``*`` and about 14% too many
    of each digit per line; with this rule every token that occurs 100,000 times or
    more is within about 2% of its published count (tests/data/polynomial_token_counts.json);
  * one factor in five has no constant (b = 0): 4% of the lines are ``-3*x**2`` and
    32% are like ``-5*h*(5-2*h)``;
  * the variable is one of the 13 letters the data use, s, i and n twice as often
    as the others, or in 3% of lines sin, cos or tan of one.
``factors`` sets the degree and so the length; ``max_coefficient`` and
``max_constant`` bound the factors' numbers (a from -max..max-1, likewise b);
``unit_coefficient`` = 0 draws a uniformly, as seqbench did before it matched the
published counts (a harder task: more coefficients to multiply out).

Generation draws each input as a few uniform integers (``polynomial_draw``), expands
the factors by array polynomial multiplication and builds both texts' tokens from
segment tables (``polynomial_format``): no loop per example. ``solve`` is a dedicated
vectorised expander (``polynomial_parse``), not SymPy.

Splits never share an input, because an input's split is a function of its text:
90% train, 5% validation, 5% test by a hash. A generated input is hashed from what
its text shows (variable, monomial, multiset of binomials) before any text is built,
and ``generate`` keeps the inputs of the split asked for, so each split is the
original distribution conditioned on its share of the texts: not the same mix in
every split (``polynomial_draw``: the test split has 5.2% both-monomial lines against
4.0% overall). The published token counts are matched by the train split; the test
split's factored side has 31% more ``**`` and 8% more ``a`` per line. No test input
is ever a training input. The original split its file's lines at random (80/20), so
the same factored text could be in both: under this generator, about 35% of such a
test split's lines have their exact text in training. Exact match here is measured
on test inputs never seen in training, unlike the original's 88.7%. With ``data_file`` the examples are
the file's ``factored=expanded`` lines instead, each line's split a hash of its
factored tokens, drawn with replacement. With ``data_file_split = "test"`` every line
of the file is a test example, taken in turn (``eval_size`` = the line count scores
each line once), and train and validation are generated as without a file: a small
evaluation-only file can be scored whole. Its lines may then also be drawn for
training; the file is the user's to keep apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Literal, Sequence

import numpy as np

from seqbench import Examples, Signature, Task, param
from seqbench.data import SPLITS
from seqbench_tasks.polynomial_draw import (
    BUCKETS,
    LETTERS,
    SPLIT_BUCKETS,
    Draws,
    split_of,
    structure_split,
)
from seqbench_tasks.polynomial_format import (
    ExpandedFormat,
    FactoredFormat,
    digit_count,
    pair_tokens,
)
from seqbench_tasks.polynomial_file import read_data_file
from seqbench_tasks.polynomial_parse import parse
from seqbench_tasks.polynomial_tokens import (
    EOS,
    PAD,
    VOCAB_SIZE,
    decode,
    encode,
    sequence_lengths,
)

__all__ = ["Polynomial", "split_of", "structure_split", "LETTERS"]

_LARGEST = int(np.iinfo(np.int64).max)
_GENERATION = ("factors", "max_coefficient", "max_constant", "unit_coefficient", "functions")
_MAX_ROUNDS = 100


@dataclass
class Polynomial(Task):
    name = "polynomial"
    description = "expand a product of linear factors: (21-5*c)*(3*c-7) -> -15*c**2+98*c-147"
    primary_metric = "exact_match"
    direction = "max"
    metrics = ("exact_match", "token_accuracy")
    length_param = "factors"
    # Rows are short (51 int16 tokens at the defaults), so 16,384 of them take under
    # 2 MB, and at 1,024 per call NumPy's per-call overhead is a third of the cost.
    chunk_size = 16384

    factors: int = param(2, min=1, max=12, help="linear factors per input: the degree (original: 2)")
    max_coefficient: int = param(
        9, min=2, max=1_000_000, help="factors' X coefficients from -max..max-1, never 0 (original: 9)"
    )
    max_constant: int = param(
        32, min=2, max=1_000_000, help="factors' constants from -max..max-1 (original: 32)"
    )
    unit_coefficient: float = param(
        0.2,
        min=0.0,
        max=1.0,
        help="probability a factor's X coefficient is 1, else uniform; in hundredths (original: 0.2, "
        "fitted to its published token counts)",
    )
    functions: bool = param(True, help="let 3% of variables be sin, cos or tan of a letter (original: yes)")
    data_file: str = param(
        "", help="read factored=expanded lines from this file instead of generating"
    )
    data_file_split: Literal["hash", "test"] = param(
        "hash",
        help="hash: each data_file line's split by a hash of its text (90/5/5%); test: every "
        "line in the test split, train and validation generated (an evaluation-only file)",
    )
    _data: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _formats: tuple[FactoredFormat, ExpandedFormat, tuple[int, int]] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _sampler: Draws | None = field(default=None, init=False, repr=False, compare=False)
    _fingerprint: int | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name, low, high in (("factors", 1, 12), ("max_coefficient", 2, None), ("max_constant", 2, None)):
            value = getattr(self, name)
            if value < low or (high is not None and value > high):
                allowed = f"{low}..{high}" if high else f">= {low}"
                raise ValueError(f"{name} must be {allowed}, got {value}")
        hundredths = self.unit_coefficient * 100
        if not 0 <= hundredths <= 100 or abs(hundredths - round(hundredths)) > 1e-9:
            raise ValueError(
                f"unit_coefficient must be 0..1 in hundredths (0.2, 0.25), got {self.unit_coefficient}"
            )
        largest = max(self._coefficient_bounds())
        if largest > _LARGEST:
            raise ValueError(
                f"factors={self.factors}, max_coefficient={self.max_coefficient} and "
                f"max_constant={self.max_constant} give expanded coefficients up to {largest}, "
                "beyond 64-bit integers; lower one of them"
            )
        if self.data_file_split not in ("hash", "test"):
            raise ValueError(f"data_file_split must be 'hash' or 'test', got {self.data_file_split!r}")
        if self.data_file:
            self._load(self.data_file)
        elif self.data_file_split != "hash":
            raise ValueError("data_file_split = 'test' needs a data_file whose lines to test on")

    def fixed_examples(self, split: str) -> bool:
        """Every split of a ``data_file`` is the file's lines (or, for train and
        validation beside an evaluation-only file, generated): a small file is the
        user's to judge, so suite validation does not refuse its few distinct lines."""
        return bool(self.data_file) and (self.data_file_split == "hash" or split == "test")

    def data_version(self) -> int | None:
        """With a ``data_file``: a fingerprint of its content (48 bits of its SHA-256), so
        points made from other lines (the file edited, or another file at the same
        relative path) are other points, and a resumed run makes them anew. None when
        the examples are generated: that data never changed."""
        return self._fingerprint

    @property
    def _evaluation_file(self) -> bool:
        """The file is the test split; train and validation are generated."""
        return self._data is not None and self.data_file_split == "test"

    def _load(self, data_file: str) -> None:
        changed = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
            if f.name in _GENERATION and getattr(self, f.name) != f.default
        ]
        if changed and self.data_file_split == "hash":
            raise ValueError(
                f"data_file: examples come from {data_file!r}, so {', '.join(changed)} "
                "would have no effect; leave the generation parameters at their defaults"
            )
        read = read_data_file(data_file)
        inputs, targets = read.inputs, read.targets
        self._fingerprint = read.fingerprint
        if self.data_file_split == "test":
            if not len(inputs):  # every point would fail generating its test split
                raise ValueError(f"data_file: {data_file!r} holds no factored=expanded lines to test on")
            self._data = (inputs, targets, np.full(len(inputs), SPLITS.index("test")))
            return
        owner = read.splits
        for index, name in enumerate(SPLITS):
            if not np.any(owner == index):
                raise ValueError(
                    f"data_file: {data_file!r} has {len(inputs)} lines and none falls in the "
                    f"{name} split (about 5% of lines each go to validation and test); "
                    "use a longer file, or data_file_split = 'test' to test on every line"
                )
        self._data = (inputs, targets, owner)

    def _coefficient_bounds(self) -> list[int]:
        """The largest |coefficient| of each degree: (-A*X - B)**factors attains them all."""
        k, a, b = self.factors, self.max_coefficient, self.max_constant
        return [math.comb(k, j) * a**j * b ** (k - j) for j in range(k + 1)]

    def _longest_factored(self) -> int:
        """Tokens in the longest factored text the parameters allow (an upper bound: all
        binomials distinct and as long as can be; exact at the defaults)."""
        k, x = self.factors, 4 if self.functions else 1
        binomial = digit_count(self.max_coefficient) + digit_count(self.max_constant) + x + 3
        binomial += 2 if k > 1 else 0  # brackets
        longest = 0
        for monomials in range(k + 1):
            count = k - monomials
            tokens, items = count * binomial, count
            if monomials:
                power = x + (1 + digit_count(monomials) if monomials > 1 else 0)
                tokens += 1 + digit_count(self.max_coefficient**monomials) + power
                items += 2
            longest = max(longest, tokens + items - 1)  # a "*" between items
        return longest

    def _longest_expanded(self) -> int:
        """Tokens in the longest expanded text the parameters allow (an upper bound:
        every term present, signed, at its largest coefficient)."""
        x = 4 if self.functions else 1
        total = 0
        for degree, bound in enumerate(self._coefficient_bounds()):
            total += 1 + digit_count(bound)
            if degree:
                total += 1 + x + (1 + digit_count(degree) if degree > 1 else 0)
        return total

    @property
    def signature(self) -> Signature:
        input_length, target_length = self._longest_factored() + 1, self._longest_expanded() + 1
        if self._data is not None:
            inputs, targets, _ = self._data
            if self._evaluation_file:  # generated and read examples alike
                input_length = max(input_length, inputs.shape[1])
                target_length = max(target_length, targets.shape[1])
            else:
                input_length, target_length = inputs.shape[1], targets.shape[1]
        return Signature(
            inputs="tokens",
            targets="tokens",
            input_length=input_length,
            input_vocab=VOCAB_SIZE,
            target_length=target_length,
            target_vocab=VOCAB_SIZE,
            end_id=EOS,
        )

    def encode(self, strings: Sequence[str], width: int | None = None) -> np.ndarray:
        """Token ids of ``strings`` (either side), EOS-ended and PAD-padded to ``width``."""
        return encode(strings, width)

    def decode(self, token_ids: np.ndarray) -> list[str]:
        """The text of each row of token ids, up to its first EOS."""
        return decode(token_ids)

    def _draws(self) -> Draws:
        if self._sampler is None:
            self._sampler = Draws(
                self.factors, self.max_coefficient, self.max_constant, self.functions, self.unit_coefficient
            )
        return self._sampler

    def _draw(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """(letter, function, a, b) of ``count`` inputs, drawn as the original drew them."""
        return self._draws().decode(*self._draws().draw(count, rng))

    def generate(self, count: int, rng: np.random.Generator, split: str = "train") -> Examples:
        """``count`` examples of ``split``: the original distribution, restricted to the
        inputs whose hash falls in ``split``, in a few vectorised rounds."""
        if split not in SPLIT_BUCKETS:
            raise ValueError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")
        if self._evaluation_file and self._data is not None:
            if split == "test":  # every line in turn: eval_size = line count scores each once
                inputs, targets, _ = self._data
                chosen = np.resize(np.arange(len(inputs)), count)
                examples = Examples(inputs[chosen], targets[chosen])
            else:
                examples = self._generate(count, rng, split)
            signature = self.signature  # both kinds padded to one width
            return Examples(
                _pad(examples.inputs, signature.input_length),
                _pad(examples.targets, signature.target_length or 0),
            )
        if self._data is not None:
            inputs, targets, owner = self._data
            mine = np.flatnonzero(owner == SPLITS.index(split))
            chosen = mine[rng.integers(0, len(mine), size=count)]
            return Examples(inputs[chosen], targets[chosen])
        return self._generate(count, rng, split)

    def _generate(self, count: int, rng: np.random.Generator, split: str) -> Examples:
        """``count`` generated examples of ``split``."""
        low, high = SPLIT_BUCKETS[split]
        share = (high - low) / BUCKETS
        draws, wanted = self._draws(), SPLITS.index(split)
        kept: list[tuple[np.ndarray, np.ndarray]] = []
        have = 0
        for _ in range(_MAX_ROUNDS):
            if have >= count:
                break
            variables, factors = draws.draw(int((count - have) / share * 1.1) + 16, rng)
            mine = np.flatnonzero(draws.owner(variables, factors) == wanted)
            kept.append((variables[mine], factors[:, mine]))
            have += len(mine)
        if have < count:
            raise ValueError(
                f"the {split} split holds (almost) none of the possible inputs; "
                "raise factors, max_coefficient or max_constant"
            )
        variables = np.concatenate([part[0] for part in kept])[:count]
        factors = np.concatenate([part[1] for part in kept], axis=1)[:, :count]
        letter, function, a, b = draws.decode(variables, factors)
        if self._formats is None:
            self._formats = (
                FactoredFormat(self.max_coefficient, self.max_constant, self.factors),
                ExpandedFormat(self._coefficient_bounds()),
                (self._longest_factored() + 1, self._longest_expanded() + 1),
            )
        return Examples(*pair_tokens(*self._formats[:2], letter, function, a, b, self._formats[2]))

    def solve(self, inputs: np.ndarray) -> np.ndarray:
        """The expansion of each factored input, by the dedicated vectorised expander."""
        letter, function, coefficients = parse(inputs)
        answers = ExpandedFormat.fitting(coefficients).tokens(letter, function, coefficients)
        return _pad(answers, max(answers.shape[1], self.signature.target_length or 0))

    def score(self, predictions: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        """exact_match: the prediction equals the target up to and including the
        target's EOS (what follows is ignored); token_accuracy: the share of those
        target positions (EOS included) predicted right."""
        predictions = np.asarray(predictions)
        if predictions.ndim != 2 or len(predictions) != len(targets):
            raise ValueError(
                f"polynomial predictions must be token ids of shape ({len(targets)}, length), "
                f"got {predictions.shape}"
            )
        width = max(predictions.shape[1], targets.shape[1])
        predictions = _pad(predictions.astype(np.int64), width)
        targets = _pad(np.asarray(targets, dtype=np.int64), width)
        scored = np.arange(width) < (sequence_lengths(targets) + 1)[:, None]
        right = predictions == targets
        return {
            "exact_match": float(np.mean(np.all(right | ~scored, axis=1))),
            "token_accuracy": float(np.sum(right & scored) / max(int(np.sum(scored)), 1)),
        }


def _pad(ids: np.ndarray, width: int) -> np.ndarray:
    if ids.shape[1] == width:
        return ids
    return np.pad(ids, ((0, 0), (0, width - ids.shape[1])), constant_values=PAD)
