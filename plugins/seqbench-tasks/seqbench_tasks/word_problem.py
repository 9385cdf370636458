"""Word problems on finite groups: state tracking as in Merrill, Petty & Sabharwal 2024,
"The Illusion of State in State-Space Models" (ICML), from their code
(github.com/jopetty/word-problem: ``src/generate_data.py`` makes the data,
``src/main.py`` trains on it).

An input is ``length`` group elements drawn uniformly and independently; the target at
position t is the running product g_1 * g_2 * ... * g_t (their ``scanned`` targets,
``tagging = true``, the default of their ``train``), or only the whole product
(``tagging = false``, their sequence-classification mode: the last target alone).

Elements and products are the reference's, from its ``abstract_algebra`` package
(github.com/jopetty/abstract_algebra, ``src/abstract_algebra/finite_algebras.py`` and
``permutations.py``):

- S_n: the permutations of 0..n-1 in lexicographic order (``itertools.permutations``;
  element 0 is the identity). Their product is composition, ``(a * b)(i) = a(b(i))``,
  and the running product multiplies on the right (``acc = op(acc, x)``): the product
  of a sequence maps i to g_1(g_2(...g_t(i))), so g_t acts first.
- A_n: the even permutations, in S_n's order (the reference takes S_n's commutator
  subgroup and sorts its elements by their index in S_n).
- Z_n: element i is a^i; the product adds indices modulo n.
- G_x_H: pairs in ``itertools.product`` order (index i_G * |H| + i_H), multiplied
  componentwise.

Every group's ``cayley_table`` equals the table of the reference library's ``G.op`` on
``G.elements`` (checked once against its source; it is not a dependency here).

Token ids are the reference's element indices plus one (0 is PAD), for inputs and
targets alike. Departures: no BOS token (the reference's tokenizer prepends one to
inputs and targets, so its first target is BOS itself); examples are drawn
independently (the reference draws distinct sequences per length file); and the hash
split is 80/10/10 (the reference splits length-k sequences 80/20 at random).

Lengths: the reference trains on every length 2..k and tests at k. With a target at
every position, each prefix of a length-k input is already a training example of its
length for a causal model, so ``min_length`` is for ``tagging = false`` only (where the
answer is due at each row's last element); ``run.eval_lengths`` tests longer lengths.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from seqbench import Signature, param
from seqbench.task import PAD_ID
from seqbench_tasks.chomsky import LengthRangeTask, check_min_length
from seqbench_tasks.synthetic_tokens import TOKEN_DTYPE

__all__ = ["WordProblem", "GROUPS", "cayley_table"]

# The groups of the paper and its data files (Z60, A4_x_Z5 and A5 have order 60: abelian,
# solvable and non-solvable), and the small symmetric ones.
GroupName = Literal["S3", "S4", "S5", "A4", "A5", "Z60", "A4_x_Z5"]
GROUPS: tuple[str, ...] = get_args(GroupName)


def _permutation_group(n: int, even_only: bool) -> np.ndarray:
    """S_n (or A_n): permutations of 0..n-1 in lexicographic order, ``(a * b)[i] = a[b[i]]``."""
    perms = np.array(list(itertools.permutations(range(n))), dtype=np.int64)
    if even_only:
        inversions = sum(perms[:, i] > perms[:, j] for i in range(n) for j in range(i + 1, n))
        perms = perms[np.asarray(inversions) % 2 == 0]
    composed = perms[np.arange(len(perms))[:, None, None], perms[None, :, :]]
    # A permutation read as a base-n number: lexicographic order is numeric order.
    weights = n ** np.arange(n - 1, -1, -1)
    return np.searchsorted(perms @ weights, composed @ weights)


def _cyclic_group(n: int) -> np.ndarray:
    return (np.arange(n)[:, None] + np.arange(n)[None, :]) % n


def _direct_product(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    size = len(second)
    pairs = np.arange(len(first) * size)
    g, h = pairs // size, pairs % size
    return first[g[:, None], g[None, :]] * size + second[h[:, None], h[None, :]]


@functools.lru_cache(maxsize=None)
def cayley_table(group: str) -> np.ndarray:
    """``table[a, b]`` = the index of a * b, in the reference's element order, for a
    name of the reference's grammar: S#, A#, Z#, joined by ``_x_``."""
    tables = []
    for factor in group.split("_x_"):
        kind, n = factor[0], int(factor[1:])
        if kind == "Z":
            tables.append(_cyclic_group(n))
        elif kind in "SA":
            tables.append(_permutation_group(n, even_only=kind == "A"))
        else:
            raise ValueError(f"unknown group {group!r}; allowed: {', '.join(GROUPS)}")
    table = functools.reduce(_direct_product, tables)
    table.flags.writeable = False  # shared by every caller (cached)
    return table


@dataclass
class WordProblem(LengthRangeTask):
    name = "word-problem"
    description = (
        "the running product of a sequence of group elements (Merrill, Petty & Sabharwal 2024's "
        "word problem: state tracking; S5 and A5 are NC1-complete)"
    )
    length_param = "length"
    smoke = {"length": 8}

    length: int = param(10, min=1, help="group elements in the sequence (the reference's k)")
    group: GroupName = param("A5", help="the group: symmetric S3..S5, alternating A4/A5, cyclic Z60, or A4 x Z5")
    tagging: bool = param(
        True,
        help="true: the running product at every position (the reference's default); "
        "false: the whole product alone, due at the last element",
    )
    min_length: int | None = param(
        None, min=1,
        help="with tagging = false, the shortest training sequence: train lengths uniform in "
        "min_length..length (the reference trains on every length 2..k); none: exactly length",
    )

    def __post_init__(self) -> None:
        if self.min_length is None:
            return
        if self.tagging:
            raise ValueError(
                f"{self.name}: min_length needs tagging = false (with a target at every position, "
                "each prefix of a training sequence already is a shorter example)"
            )
        check_min_length(self, self.length, self.min_length)

    @property
    def order(self) -> int:
        return len(cayley_table(self.group))

    @property
    def signature(self) -> Signature:
        return Signature(
            inputs="tokens", targets="tokens", input_length=self.length, input_vocab=1 + self.order,
            target_length=self.length if self.tagging else 1, target_vocab=1 + self.order,
        )

    def _rows(self, rng: np.random.Generator, count: int, length: int) -> np.ndarray:
        elements = 1 + rng.integers(0, self.order, size=(count, self.length))
        return np.where(np.arange(self.length)[None, :] < length, elements, PAD_ID).astype(TOKEN_DTYPE)


    def solve(self, inputs: np.ndarray) -> np.ndarray:
        """A scan over positions, every row at once: product = table[product, element]."""
        inputs = np.asarray(inputs)
        table = cayley_table(self.group)
        product = np.zeros(len(inputs), dtype=np.int64)  # element 0: the identity
        running = np.full(inputs.shape, PAD_ID, dtype=TOKEN_DTYPE)
        for position in range(inputs.shape[1]):
            present = inputs[:, position] != PAD_ID
            product = np.where(present, table[product, np.maximum(inputs[:, position] - 1, 0)], product)
            running[:, position] = np.where(present, 1 + product, PAD_ID)
        if self.tagging:
            return running
        return (1 + product)[:, None].astype(TOKEN_DTYPE)
