"""Declared parameters: ``param_specs`` reads them, ``coerce_params`` checks values against them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import pytest

from seqbench.params import ParamError, coerce_params, param, param_specs


@dataclass
class Example:
    count: int = param(3, min=1, max=10, help="how many")
    rate: float = param(0.5, min=0.0, help="how fast")
    flag: bool = param(False)
    mode: Literal["fast", "slow"] = param("fast")
    colour: str = param("red", choices=("red", "green"))
    limit: int | None = param(None, min=1)
    sizes: list[int] = param([1, 2])
    label: str = "plain"


@dataclass
class NeedsLength:
    length: int = param(min=1, help="no default: a suite must say")


DEFAULTS = {
    "count": 3,
    "rate": 0.5,
    "flag": False,
    "mode": "fast",
    "colour": "red",
    "limit": None,
    "sizes": [1, 2],
    "label": "plain",
}


def refusal(values: dict, cls: type = Example) -> ParamError:
    with pytest.raises(ParamError) as caught:
        coerce_params(cls, values)
    return caught.value


# ---- coerce_params ------------------------------------------------------------------------


def test_no_values_gives_every_default():
    assert coerce_params(Example, {}) == DEFAULTS


def test_given_values_are_kept_and_the_rest_defaulted():
    assert coerce_params(Example, {"count": 7, "mode": "slow"}) == {**DEFAULTS, "count": 7, "mode": "slow"}


def test_unknown_key_is_refused_listing_allowed_keys_in_order():
    error = refusal({"cuont": 2})

    assert error.key == "cuont"
    assert str(error) == (
        "cuont: unknown parameter; allowed: count, rate, flag, mode, colour, limit, sizes, label"
        " (did you mean 'count'?)"
    )


def test_missing_required_parameter_is_refused():
    error = refusal({}, NeedsLength)

    assert error.key == "length"
    assert "required" in error.message
    assert "int >= 1" in error.message


def test_required_parameter_given_is_accepted():
    assert coerce_params(NeedsLength, {"length": 4}) == {"length": 4}


@pytest.mark.parametrize("value", [1, 10], ids=["min", "max"])
def test_bounds_are_inclusive(value):
    assert coerce_params(Example, {"count": value})["count"] == value


@pytest.mark.parametrize("value", [0, 11, -3], ids=["below-min", "above-max", "negative"])
def test_value_outside_bounds_is_refused_naming_them(value):
    error = refusal({"count": value})

    assert error.key == "count"
    assert error.message == f"expected int between 1 and 10, got {value}"


def test_min_applies_to_floats():
    assert refusal({"rate": -0.1}).message == "expected float >= 0, got -0.1"


def test_nan_is_refused_where_bounds_are_declared():
    assert refusal({"rate": float("nan")}).message == "expected a finite float >= 0, got nan"


def test_value_outside_choices_is_refused_listing_them():
    error = refusal({"colour": "blue"})

    assert error.key == "colour"
    assert error.message == "expected one of 'red', 'green', got 'blue'"


def test_value_outside_literal_is_refused_listing_it():
    assert refusal({"mode": "medium"}).message == "expected one of 'fast', 'slow', got 'medium'"


def test_literal_value_is_accepted():
    assert coerce_params(Example, {"mode": "slow"})["mode"] == "slow"


def test_int_is_accepted_for_float_and_converted():
    rate = coerce_params(Example, {"rate": 2})["rate"]

    assert rate == 2.0
    assert type(rate) is float


def test_float_is_refused_for_int():
    assert refusal({"count": 2.0}).message == "expected int between 1 and 10, got 2.0"


def test_bool_is_never_an_int():
    assert refusal({"count": True}).message == "expected int between 1 and 10, got True"


def test_bool_is_never_a_float():
    assert refusal({"rate": False}).message == "expected float >= 0, got False"


def test_int_is_never_a_bool():
    assert refusal({"flag": 1}).message == "expected bool, got 1"


def test_string_is_refused_for_int():
    assert refusal({"count": "3"}).message == "expected int between 1 and 10, got '3'"


def test_int_is_refused_for_string():
    assert refusal({"label": 3}).message == "expected str, got 3"


@pytest.mark.parametrize("value", [None, 5], ids=["none", "int"])
def test_optional_accepts_none_and_its_type(value):
    assert coerce_params(Example, {"limit": value})["limit"] == value


def test_optional_refuses_other_types():
    assert refusal({"limit": "5"}).message == "expected int >= 1, got '5'"


def test_optional_still_enforces_bounds():
    assert refusal({"limit": 0}).message == "expected int >= 1, got 0"


def test_list_of_type_accepts_matching_items():
    assert coerce_params(Example, {"sizes": [3, 4, 5]})["sizes"] == [3, 4, 5]


def test_list_of_type_accepts_a_tuple_as_a_list():
    assert coerce_params(Example, {"sizes": (3, 4)})["sizes"] == [3, 4]


def test_list_of_type_refuses_a_wrong_item():
    error = refusal({"sizes": [3, "four"]})

    assert error.key == "sizes"
    assert error.message == "expected list of int, got [3, 'four']"


def test_list_of_int_refuses_bool_items():
    assert refusal({"sizes": [1, True]}).key == "sizes"


def test_list_of_type_refuses_a_scalar():
    assert refusal({"sizes": 3}).message == "expected list of int, got 3"


def test_param_error_is_a_value_error_carrying_key_and_message():
    error = refusal({"count": 0})

    assert isinstance(error, ValueError)
    assert str(error) == f"{error.key}: {error.message}"


# ---- param_specs --------------------------------------------------------------------------


def specs_by_name(cls: type = Example) -> dict:
    return {spec.name: spec for spec in param_specs(cls)}


def test_specs_follow_declaration_order():
    assert [spec.name for spec in param_specs(Example)] == list(DEFAULTS)


def test_specs_read_help_and_bounds():
    count = specs_by_name()["count"]

    assert (count.help, count.min, count.max, count.default) == ("how many", 1, 10, 3)
    assert count.type is int


def test_specs_read_declared_choices():
    assert specs_by_name()["colour"].choices == ("red", "green")


def test_specs_take_choices_from_a_literal():
    assert specs_by_name()["mode"].choices == ("fast", "slow")


def test_plain_field_has_no_metadata():
    label = specs_by_name()["label"]

    assert (label.help, label.min, label.max, label.choices) == ("", None, None, None)
    assert label.default == "plain"


def test_spec_without_default_is_required():
    specs = specs_by_name(NeedsLength)

    assert specs["length"].required
    assert specs["length"].default is dataclasses.MISSING
    assert not specs_by_name()["count"].required


def test_list_default_spec_reads_the_default_value():
    assert specs_by_name()["sizes"].default == [1, 2]


def test_list_default_is_not_shared_between_instances():
    first, second = Example(), Example()
    first.sizes.append(99)

    assert second.sizes == [1, 2]


@pytest.mark.parametrize(
    "name, type_name",
    [("count", "int"), ("rate", "float"), ("limit", "int"), ("sizes", "list of int"),
     ("mode", "'fast' | 'slow'")],
)
def test_spec_type_names_read_as_users_write_them(name, type_name):
    assert specs_by_name()[name].type_name == type_name


def test_private_and_non_init_fields_are_not_parameters():
    @dataclass
    class WithInternals:
        visible: int = 1
        _private: int = 2
        derived: int = dataclasses.field(default=0, init=False)

    assert [spec.name for spec in param_specs(WithInternals)] == ["visible"]


def test_a_large_whole_bound_is_shown_exactly_and_a_fraction_as_written():
    """``:g`` showed 2147483648 as 2.14748e+09: a refusal of 2147483653 then read as if
    the value were below the bound."""
    from seqbench.params import ParamSpec

    assert ParamSpec("vocab", int, 8, min=4, max=2**31).describe_allowed() == "int between 4 and 2147483648"
    assert ParamSpec("lr", float, 0.1, min=1e-6).describe_allowed() == "float >= 1e-06"
    assert ParamSpec("p", float, 0.5, min=0.0, max=0.99).describe_allowed() == "float between 0 and 0.99"
