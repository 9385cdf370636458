"""The polynomial task: the original format, the expander against SymPy, the splits."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import sympy
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from seqbench import results
from seqbench.cli import main
from seqbench.data import SPLITS, Split
from seqbench_tasks import Polynomial
from seqbench_tasks.polynomial_draw import Draws, structure_split
from seqbench_tasks.polynomial_format import ExpandedFormat, FactoredFormat, expand
from seqbench_tasks.polynomial_tokens import EOS, FUNCTIONS, VOCAB, decode, encode

SAMPLE = Path(__file__).resolve().parent / "data" / "polynomial_sample.txt"
HYPOTHESIS = settings(max_examples=30, deadline=None, database=None)

# (factored, expanded) as the reference write-up prints them.
REFERENCE = [
    ("-5*h*(5-2*h)", "10*h**2-25*h"),
    ("s*(8*s-21)", "8*s**2-21*s"),
    ("(21-t)*(-6*t-4)", "6*t**2-122*t-84"),
    ("(21-5*c)*(3*c-7)", "-15*c**2+98*c-147"),
    ("4*n*(n+22)", "4*n**2+88*n"),
    ("(k+2)*(5*k+29)", "5*k**2+39*k+58"),
    ("(k-15)*(2*k+29)", "2*k**2-k-435"),
    ("(i-20)*(i+24)", "i**2+4*i-480"),
    ("-4*c*(c+2)", "-4*c**2-8*c"),
    ("-6*j*(-7*j-11)", "42*j**2+66*j"),
    ("6*i*(-4*i-16)", "-24*i**2-96*i"),
    ("-6*o*(20-4*o)", "24*o**2-120*o"),
]

# Factors behind inputs from the reference and from published samples of the original
# data, in an order a generator might draw them.
DRAWN = [
    ("h", 0, [(-2, 5), (-5, 0)], "-5*h*(5-2*h)"),
    ("c", 0, [(3, -7), (-5, 21)], "(21-5*c)*(3*c-7)"),
    ("n", 0, [(1, 22), (4, 0)], "4*n*(n+22)"),
    ("t", 0, [(-6, -4), (-1, 21)], "(21-t)*(-6*t-4)"),
    ("s", 0, [(1, 0), (8, -21)], "s*(8*s-21)"),
    ("x", 0, [(-3, 0), (1, 0)], "-3*x**2"),
    ("a", 2, [(4, -21), (1, -28)], "(cos(a)-28)*(4*cos(a)-21)"),
    ("h", 1, [(-2, 5), (-5, 0)], "-5*(5-2*sin(h))*sin(h)"),
    ("y", 0, [(2, 3), (2, 3)], "(2*y+3)**2"),
    ("x", 0, [(-1, 3), (1, -3)], "(3-x)*(x-3)"),
]


def sympy_pair(letter: str, function: str | None, factors: list[tuple[int, int]]) -> tuple[str, str]:
    """The original generator's way: SymPy's printing of the product and of its expansion."""
    symbol = sympy.Symbol(letter)
    x = getattr(sympy, function)(symbol) if function else symbol
    product = sympy.Integer(1)
    for a, b in factors:
        product *= a * x + b
    return str(product).replace(" ", ""), str(sympy.expand(product)).replace(" ", "")


def sympify(text: str, letter: str) -> sympy.Expr:
    return sympy.sympify(text, locals={letter: sympy.Symbol(letter)})


factor = st.tuples(
    st.integers(-9, 8).filter(bool),
    st.one_of(st.just(0), st.integers(-32, 31), st.integers(-3, 3)),
)
expression = st.tuples(
    st.sampled_from("abcdefghijklmnopqrstuvwxyz"),
    st.sampled_from([None, None, *FUNCTIONS]),
    st.lists(factor, min_size=1, max_size=5),
)


def factored_texts(letters, functions, a, b, tabulate=True) -> list[str]:
    """The factored text the generator writes for these factors."""
    text_format = FactoredFormat(9, 32, a.shape[1], tabulate)
    return decode(text_format.tokens(np.asarray(letters), np.asarray(functions), a, b, 200))


@pytest.mark.parametrize("letter, function, factors, text", DRAWN)
def test_generated_inputs_are_written_in_the_originals_format(letter, function, factors, text):
    a = np.array([[f[0] for f in factors]])
    b = np.array([[f[1] for f in factors]])
    assert factored_texts([ord(letter) - 97], [function], a, b) == [text]


@pytest.mark.parametrize("factored, expanded", REFERENCE)
def test_oracle_expands_the_reference_examples_exactly(factored, expanded):
    task = Polynomial()
    assert task.decode(task.solve(task.encode([factored]))) == [expanded]


def by_factor_count(cases):
    """(cases, letters, functions, a, b) per number of factors."""
    for count in sorted({len(factors) for _, _, factors in cases}):
        same = [case for case in cases if len(case[2]) == count]
        letters = [ord(letter) - 97 for letter, _, _ in same]
        functions = [FUNCTIONS.index(f) + 1 if f else 0 for _, f, _ in same]
        a = np.array([[f[0] for f in factors] for _, _, factors in same])
        b = np.array([[f[1] for f in factors] for _, _, factors in same])
        yield same, letters, functions, a, b


@given(st.lists(expression, min_size=1, max_size=20), st.booleans())
@HYPOTHESIS
def test_generated_inputs_are_written_exactly_as_sympy_writes_them(cases, tabulate):
    for same, letters, functions, a, b in by_factor_count(cases):
        texts = factored_texts(letters, functions, a, b, tabulate)
        assert texts == [sympy_pair(*case)[0] for case in same]


@given(st.lists(expression, min_size=1, max_size=20), st.booleans())
@HYPOTHESIS
def test_generated_targets_are_written_exactly_as_sympy_writes_them(cases, tabulate):
    for same, letters, functions, a, b in by_factor_count(cases):
        coefficients = expand(a, b)
        text_format = ExpandedFormat([int(v) for v in np.abs(coefficients).max(axis=0)], tabulate)
        texts = decode(text_format.tokens(np.array(letters), np.array(functions), coefficients))
        assert texts == [sympy_pair(*case)[1] for case in same]


def the_letter(text: str) -> str:
    return next(c for c in re.sub("sin|cos|tan", "", text) if c.isalpha())


def test_generated_inputs_are_texts_sympy_reprints_unchanged():
    # SymPy reads a product of a letter's factors back as the same product. (Not so
    # for functions: it reads "-2*(3*tan(n)-18)*..." as -2 times the first bracket.)
    task = Polynomial(factors=3, functions=False)
    for text in task.decode(task.generate(300, np.random.default_rng(7)).inputs):
        assert str(sympify(text, the_letter(text))).replace(" ", "") == text


def test_generated_targets_are_sympys_expansion_of_the_inputs():
    task = Polynomial(factors=3)
    examples = task.generate(300, np.random.default_rng(8))
    for source, target in zip(task.decode(examples.inputs), task.decode(examples.targets)):
        expanded = sympy.expand(sympify(source, the_letter(source)))
        assert str(expanded).replace(" ", "") == target


@given(st.lists(expression, min_size=1, max_size=20))
@HYPOTHESIS
def test_oracle_expansion_is_written_exactly_as_sympy_writes_it(cases):
    pairs = [sympy_pair(*case) for case in cases]
    task = Polynomial(factors=5)
    expanded = task.decode(task.solve(task.encode([factored for factored, _ in pairs])))
    assert expanded == [target for _, target in pairs]


@given(st.lists(expression, min_size=1, max_size=20))
@HYPOTHESIS
def test_oracle_expansion_is_the_same_polynomial_as_sympys(cases):
    pairs = [sympy_pair(*case) for case in cases]
    task = Polynomial(factors=5)
    expanded = task.decode(task.solve(task.encode([factored for factored, _ in pairs])))
    for (letter, _, _), (factored, _), mine in zip(cases, pairs, expanded):
        difference = sympify(mine, letter) - sympy.expand(sympify(factored, letter))
        assert sympy.expand(difference) == 0, (factored, mine)


@pytest.mark.parametrize("factors", range(1, 13))
def test_oracle_scores_exact_match_one_at_every_number_of_factors(factors):
    task = Polynomial(factors=factors)
    examples = task.generate(300, np.random.default_rng(factors))
    assert task.score(task.solve(examples.inputs), examples.targets)["exact_match"] == 1.0


def test_tokenizer_round_trips_text_with_one_token_per_digit():
    texts = [text for pair in REFERENCE for text in pair] + ["(3*sin(x)-3)*(5*tan(x)+6)"]
    ids = encode(texts)
    assert decode(ids) == texts
    # "-147" is four tokens; "sin", "(", "x", ")" and "**" one each.
    assert list(ids[texts.index("-15*c**2+98*c-147")]).index(EOS) == 16


def test_encode_refuses_text_outside_the_vocabulary():
    with pytest.raises(ValueError, match="x\\^2"):
        encode(["x+1", "x^2"])


def test_generated_train_validation_and_test_never_share_an_input():
    # One factor leaves about 17,000 possible inputs: independent streams would collide.
    task = Polynomial(factors=1)
    texts = {name: set(task.decode(Split(task, name, 3_000, seed=0).materialize().inputs)) for name in SPLITS}
    assert len(texts["train"]) > 1_000
    assert not texts["train"] & texts["validation"]
    assert not texts["train"] & texts["test"]
    assert not texts["validation"] & texts["test"]


def test_data_file_examples_are_the_files_lines():
    task = Polynomial(data_file=str(SAMPLE))
    examples = task.generate(200, np.random.default_rng(0), "train")
    lines = set(SAMPLE.read_text().split())
    drawn = {f"{f}={e}" for f, e in zip(task.decode(examples.inputs), task.decode(examples.targets))}
    assert drawn <= lines and len(drawn) > 20


def test_data_file_splits_never_share_a_line():
    task = Polynomial(data_file=str(SAMPLE))
    texts = {
        name: set(task.decode(task.generate(300, np.random.default_rng(1), name).inputs))
        for name in SPLITS
    }
    assert all(texts.values())
    assert not texts["train"] & texts["validation"]
    assert not texts["train"] & texts["test"]
    assert not texts["validation"] & texts["test"]


def test_an_evaluation_only_data_file_puts_every_line_in_the_test_split(tmp_path):
    # Five lines: too few for the hash to give every split one, but scored whole.
    lines = SAMPLE.read_text().split()[:5]
    path = tmp_path / "five.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="data_file_split = 'test'"):
        Polynomial(data_file=str(path))
    task = Polynomial(data_file=str(path), data_file_split="test")
    test = task.generate(10, np.random.default_rng(0), "test")
    assert [f"{f}={e}" for f, e in zip(task.decode(test.inputs), task.decode(test.targets))] == lines * 2
    train = task.generate(500, np.random.default_rng(0), "train")
    assert train.inputs.shape[1] == test.inputs.shape[1] == task.signature.input_length
    assert len(set(task.decode(train.inputs))) > 400  # generated, not the file's lines


def test_an_evaluation_only_data_file_is_scored_whole_by_a_run(tmp_path, store_path):
    lines = SAMPLE.read_text().split()[:7]
    (tmp_path / "seven.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "suite.toml").write_text(
        '[suite]\nname = "eval_file"\n[run]\nepochs = 1\ntrain_size = 64\neval_size = 7\n'
        f'[task]\nname = "polynomial"\ndata_file = "{tmp_path / "seven.txt"}"\n'
        'data_file_split = "test"\n[[model]]\nname = "oracle"\n'
    )
    result = CliRunner().invoke(main, ["run", str(tmp_path / "suite.toml"), "--store", str(store_path)])
    assert result.exit_code == 0, result.output
    frame = results.load(store_path)
    assert list(frame["metric.exact_match"]) == [1.0]


def test_oracle_expands_every_data_file_line_exactly():
    task = Polynomial(data_file=str(SAMPLE))
    factored, expanded = zip(*(line.split("=") for line in SAMPLE.read_text().split()))
    assert task.decode(task.solve(task.encode(factored))) == list(expanded)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"factors": 1},
        {"factors": 4, "functions": False},
        {"factors": 3, "max_coefficient": 99, "max_constant": 500},
        {"factors": 12, "max_coefficient": 2, "max_constant": 2},
    ],
)
def test_signature_lengths_bound_every_generated_sequence(params):
    task = Polynomial(**params)
    examples = task.generate(3_000, np.random.default_rng(0))
    signature = task.signature
    assert examples.inputs.shape == (3_000, signature.input_length)
    assert examples.targets.shape == (3_000, signature.target_length)
    for ids, vocab in ((examples.inputs, signature.input_vocab), (examples.targets, signature.target_vocab)):
        assert np.all((ids >= 0) & (ids < vocab))
        assert np.all(np.any(ids == signature.end_id, axis=1))


def test_default_sequences_are_as_long_as_the_originals_at_most():
    # The original's longest lines: 29 characters in, 28 out; here 25 and 24 tokens
    # ("sin" and "**" are one token each) plus EOS.
    signature = Polynomial().signature
    assert (signature.input_length, signature.target_length) == (26, 25)


def test_factors_are_drawn_from_the_original_ranges():
    _, _, a, b = Polynomial()._draw(50_000, np.random.default_rng(0))
    assert (a.min(), a.max(), b.min(), b.max()) == (-9, 8, -32, 31)
    assert not np.any(a == 0)


def test_one_factor_in_five_has_no_constant_term():
    task = Polynomial()
    texts = task.decode(task.generate(20_000, np.random.default_rng(0)).inputs)
    monomials = np.mean([re.fullmatch(r"-?(\d+\*)?[a-z]\*\*2", t) is not None for t in texts])
    assert monomials == pytest.approx(0.2**2, abs=0.006)


def test_three_percent_of_variables_are_functions_of_a_letter():
    task = Polynomial()
    texts = task.decode(task.generate(20_000, np.random.default_rng(0)).inputs)
    letters = {letter for text in texts for letter in re.sub("sin|cos|tan", "", text) if letter.isalpha()}
    assert np.mean([bool(re.search("sin|cos|tan", t)) for t in texts]) == pytest.approx(0.03, abs=0.006)
    assert letters == set("achijknostxyz")


def test_without_functions_no_variable_is_a_function():
    task = Polynomial(functions=False)
    texts = task.decode(task.generate(5_000, np.random.default_rng(0)).inputs)
    assert not any(re.search("sin|cos|tan", text) for text in texts)


def test_score_ignores_what_a_prediction_puts_after_the_targets_end():
    task = Polynomial()
    targets = task.encode(["x**2-1", "9-x**2"], width=12)
    predictions = targets.copy()
    predictions[:, -2:] = task.encode(["7"], width=2)
    assert task.score(predictions, targets) == {"exact_match": 1.0, "token_accuracy": 1.0}


def test_token_accuracy_counts_target_positions_up_to_the_end_token():
    task = Polynomial()
    targets = task.encode(["x**2-1", "9-x**2"], width=12)  # 5 + 5 tokens, EOS each
    predictions = task.encode(["x**2-2", "9-x**2"], width=12)
    assert task.score(predictions, targets) == {"exact_match": 0.5, "token_accuracy": 11 / 12}


@pytest.mark.parametrize(
    "params, named",
    [
        ({"factors": 0}, "factors"),
        ({"max_coefficient": 1}, "max_coefficient"),
        ({"max_constant": 0}, "max_constant"),
        ({"factors": 12, "max_coefficient": 99}, "max_coefficient"),
        ({"unit_coefficient": 0.123}, "unit_coefficient"),
        ({"unit_coefficient": 1.5}, "unit_coefficient"),
    ],
)
def test_a_bad_parameter_is_a_value_error_naming_it(params, named):
    with pytest.raises(ValueError, match=named):
        Polynomial(**params)


def test_a_missing_data_file_is_a_value_error_naming_the_file(tmp_path):
    missing = tmp_path / "nowhere.txt"
    with pytest.raises(ValueError, match=re.escape(str(missing))):
        Polynomial(data_file=str(missing))


def test_a_malformed_data_file_line_is_a_value_error_naming_the_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text(SAMPLE.read_text() + "x*(x+1)\n")
    with pytest.raises(ValueError, match="line 62"):
        Polynomial(data_file=str(path))


def test_data_file_refuses_generation_parameters_it_would_ignore():
    with pytest.raises(ValueError, match="factors=3"):
        Polynomial(data_file=str(SAMPLE), factors=3)


def test_smoke_suite_runs_the_oracle_to_exact_match_one_at_every_factor_count(store_path):
    result = CliRunner().invoke(
        main, ["run", "suites/polynomial.toml", "--smoke", "--store", str(store_path)]
    )
    assert result.exit_code == 0, result.output
    frame = results.load(store_path)
    oracle = frame[frame["model"] == "oracle"]
    assert sorted(oracle["task.factors"].unique()) == [2, 3, 4, 5]
    assert (oracle["metric.exact_match"] == 1.0).all()


@pytest.mark.parametrize(
    "factors, max_coefficient, max_constant, functions",
    [(2, 9, 32, True), (1, 9, 32, True), (3, 5, 7, False), (4, 300, 900, True)],  # the last: no tables
)
def test_a_drawn_inputs_split_is_the_hash_of_its_factors(factors, max_coefficient, max_constant, functions):
    # The fast path hashes slots through tables; structure_split hashes the factors
    # themselves. They must agree, or equal texts could land in two splits.
    draws = Draws(factors, max_coefficient, max_constant, functions, 0.2)
    variables, slots = draws.draw(50_000, np.random.default_rng(3))
    letter, function, a, b = draws.decode(variables, slots)
    expected = structure_split(letter, function, a, b, max_coefficient, max_constant)
    np.testing.assert_array_equal(draws.owner(variables, slots), expected)
    shares = np.bincount(expected, minlength=3) / len(expected)
    assert shares == pytest.approx([0.9, 0.05, 0.05], abs=0.01)


COUNTS = Path(__file__).resolve().parent / "data" / "polynomial_token_counts.json"


def per_line_frequencies(token_ids: np.ndarray) -> dict[str, float]:
    counts = np.bincount(token_ids.ravel().astype(np.int64), minlength=len(VOCAB))
    return {token: counts[index] / len(token_ids) for index, token in enumerate(VOCAB)}


def test_token_frequencies_match_the_originals_published_counts():
    # The original's 1,000,000-line train.txt, counted per token and side (the fixture
    # names its source). Every token seen 100,000 times or more, per line: a uniform X
    # coefficient was 18% short of the published "+" and 15% over on "*"; sampling
    # noise at 200,000 lines is about 1% for a letter.
    published = json.loads(COUNTS.read_text())
    lines = published["lines"]
    examples = Polynomial().generate(200_000, np.random.default_rng(0))
    ours = {
        "factored": per_line_frequencies(examples.inputs),
        "expanded": per_line_frequencies(examples.targets),
    }
    deviations = {
        (token, side): ours[side][token] / (count / lines) - 1
        for token, sides in published["counts"].items()
        for side, count in sides.items()
        if count >= 100_000
    }
    assert len(deviations) == 55  # all 64 counts but sin, cos, tan, factored "**", expanded brackets
    worst = max(deviations, key=lambda key: abs(deviations[key]))
    assert abs(deviations[worst]) < 0.03, (worst, deviations[worst])


def test_a_uniform_x_coefficient_misses_the_published_plus_count():
    # The check above can fail: the old uniform rule is 18% short of the "+" count.
    published = json.loads(COUNTS.read_text())
    examples = Polynomial(unit_coefficient=0.0).generate(50_000, np.random.default_rng(0))
    plus = per_line_frequencies(examples.inputs)["+"]
    assert plus / (published["counts"]["+"]["factored"] / published["lines"]) - 1 < -0.15


def test_a_factors_x_coefficient_is_one_with_the_unit_probability_else_uniform():
    _, _, a, _ = Polynomial()._draw(100_000, np.random.default_rng(1))
    assert np.mean(a == 1) == pytest.approx(0.2 + 0.8 / 17, abs=0.005)
    others = np.bincount(a[a != 1].ravel() + 9, minlength=18) / np.sum(a != 1)
    assert np.delete(others, [9, 10]) == pytest.approx(np.full(16, 1 / 16), abs=0.003)


def test_unit_coefficient_zero_draws_exactly_as_the_uniform_rule():
    uniform = Draws(2, 9, 32, True, 0.0)
    assert uniform.factor_slots == 5 * 17 * 63
    _, _, a, _ = uniform.decode(*uniform.draw(50_000, np.random.default_rng(0)))
    assert np.mean(a == 1) == pytest.approx(1 / 17, abs=0.004)


def test_a_data_file_is_part_of_the_points_identity_by_its_content(tmp_path):
    """Editing the file (or reading another at the same relative path) made a resumed
    run take the old results as this file's: its content is the task's data version."""
    path = tmp_path / "lines.txt"
    path.write_text(SAMPLE.read_text())
    before = Polynomial(data_file=str(path)).data_version()
    again = Polynomial(data_file=str(path)).data_version()
    lines = SAMPLE.read_text().splitlines()
    path.write_text("\n".join(lines[1:] + lines[:1]) + "\n")  # the same lines, reordered
    after = Polynomial(data_file=str(path)).data_version()

    assert before == again and before is not None and after is not None and after != before
    assert 0 < before < 2**48
    assert Polynomial().data_version() is None  # generated data: no version


def test_a_data_file_is_parsed_once_per_content(tmp_path, monkeypatch):
    """Validation builds the task once per grid point: each parse of a large file cost
    seconds."""
    import seqbench_tasks.polynomial_file as polynomial_file

    calls = []
    real = polynomial_file.encode_pairs
    monkeypatch.setattr(polynomial_file, "encode_pairs", lambda *a: calls.append(a) or real(*a))
    path = tmp_path / "lines.txt"
    path.write_text(SAMPLE.read_text() + "\n")  # content no other test has parsed
    tasks = [Polynomial(data_file=str(path)) for _ in range(5)]

    assert len(calls) == 1
    first = tasks[0].generate(4, np.random.default_rng(0), split="train")
    assert all(np.array_equal(first.inputs, t.generate(4, np.random.default_rng(0), split="train").inputs)
               for t in tasks[1:])


def test_the_hash_split_gives_the_test_split_another_mix_than_train():
    # docs/results.md and the plugin README say so: a text goes to one split with all
    # its copies, so the frequent both-monomial lines (`-3*x**2`, the only factored
    # texts with `**`) are 4% of all draws, 3.9% of train and 5.2-5.4% of test.
    task = Polynomial()
    share = {}
    for split in ("train", "test"):
        texts = task.decode(task.generate(40_000, np.random.default_rng(0), split).inputs)
        share[split] = np.mean(["**" in text for text in texts])
    assert 0.035 < share["train"] < 0.043
    assert share["test"] > share["train"] + 0.008  # about 10 standard errors
