"""Declared, typed parameters for tasks and models.

Tasks and models are dataclasses; each field is a parameter. ``param()`` adds the
help text and bounds that validation and ``seqbench tasks``/``models`` need, so a
suite's unknown or ill-typed value is refused before anything runs.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from seqbench.errors import near_name
from seqbench.suite_input import INT64, brief

__all__ = ["param", "ParamSpec", "param_specs", "coerce_params", "coerce_value", "ParamError", "BadDefault"]


class ParamError(ValueError):
    """A parameter value that its declaration refuses; the message names the allowed values."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


class BadDefault(TypeError):
    """A declared default that its own declaration refuses: the class's bug, not the
    user's (a TypeError, so suite validation names the plugin, not the suite)."""


def param(
    default: Any = dataclasses.MISSING,
    *,
    help: str = "",
    min: float | None = None,
    max: float | None = None,
    choices: tuple[Any, ...] | None = None,
) -> Any:
    """A dataclass field carrying the metadata seqbench validates against."""
    metadata = {"help": help, "min": min, "max": max, "choices": choices}
    if isinstance(default, (list, dict, set)):
        frozen = default
        return dataclasses.field(default_factory=lambda: type(frozen)(frozen), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: Any
    default: Any
    help: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None

    @property
    def required(self) -> bool:
        return self.default is dataclasses.MISSING

    @property
    def type_name(self) -> str:
        return _type_name(self.type)

    def describe_allowed(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        text = self.type_name
        low, high = _bound(self.min), _bound(self.max)
        if low is not None and high is not None:
            return f"{text} between {low} and {high}"
        if low is not None:
            return f"{text} >= {low}"
        if high is not None:
            return f"{text} <= {high}"
        return text


def _bound(value: float | None) -> str | None:
    """A bound as a user may type it: a whole number exactly (``:g`` showed a vocabulary's
    2147483648 as 2.14748e+09, below the value it refused), a fraction as ``:g`` does."""
    if value is None:
        return None
    if float(value).is_integer() and abs(value) < 1e16:
        return str(int(value))
    return f"{value:g}"


def param_specs(cls: type) -> list[ParamSpec]:
    """The parameters a task or model class declares, in declaration order.

    Raises BadDefault for a default that the parameter's own declaration refuses: a
    default is used exactly as a user's value would be (stored, hashed, sent to the
    worker as JSON), so it must pass the same checks."""
    specs = _declared(cls)
    if cls not in _DEFAULTS_CHECKED:  # a class's defaults do not change: checked once
        for spec in specs:
            if not spec.required:
                check_default(spec)
        _DEFAULTS_CHECKED.add(cls)
    return specs


# Classes whose defaults passed ``check_default``: every grid point's parameters go
# through ``param_specs``, and checking every default again cost half of each call.
_DEFAULTS_CHECKED: set[type] = set()


def check_default(spec: ParamSpec) -> None:
    """``spec.default`` as ``coerce_value`` would take it from a suite: of the declared
    type, in its bounds and choices, finite, of at most 64 bits, and JSON. Raises
    BadDefault naming the parameter."""
    try:
        coerce_value(spec, spec.default)
    except ParamError as error:
        raise BadDefault(f"parameter {spec.name!r} has default {brief(spec.default)}, which its own "
                         f"declaration refuses: {error.message}") from None
    problem = _unstorable(spec.default)
    if problem is not None:
        raise BadDefault(f"parameter {spec.name!r} has default {brief(spec.default)}: {problem}; "
                         f"expected {spec.describe_allowed()}")


def _unstorable(value: Any) -> str | None:
    """Why ``value`` cannot be a point's parameter (stored as JSON, read by NumPy and
    SQLite), or None."""
    if isinstance(value, int) and not isinstance(value, bool) and not INT64[0] <= value <= INT64[1]:
        return "an integer past 64 bits, which NumPy, the frameworks and SQLite refuse"
    if isinstance(value, (list, tuple)):
        return next((p for p in map(_unstorable, value) if p is not None), None)
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            return "a dict whose keys are not all strings (JSON keys are)"
        return next((p for p in map(_unstorable, value.values()) if p is not None), None)
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        return f"not a JSON value ({error})"
    return None


def _declared(cls: type) -> list[ParamSpec]:
    hints = _type_hints(cls)
    specs = []
    for field in dataclasses.fields(cls):
        if not field.init or field.name.startswith("_"):
            continue
        default = field.default
        if default is dataclasses.MISSING and field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        annotation = hints.get(field.name, Any)
        choices = field.metadata.get("choices")
        if choices is None and get_origin(annotation) is Literal:
            choices = get_args(annotation)
        specs.append(
            ParamSpec(
                name=field.name,
                type=annotation,
                default=default,
                help=field.metadata.get("help", ""),
                min=field.metadata.get("min"),
                max=field.metadata.get("max"),
                choices=tuple(choices) if choices is not None else None,
            )
        )
    return specs


@functools.lru_cache(maxsize=None)
def _type_hints(cls: type) -> dict[str, Any]:
    # Resolving string annotations compiles each one: it was nine tenths of a large
    # suite's validation (every point asks again), so each class's are resolved once.
    return typing.get_type_hints(cls)


def coerce_params(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """Check ``values`` against ``cls``'s declared parameters; return them complete with defaults.

    Raises ParamError naming the key and the allowed values.
    """
    specs = {spec.name: spec for spec in param_specs(cls)}
    unknown = sorted(set(values) - set(specs))
    if unknown:
        allowed = ", ".join(specs) or "none"
        raise ParamError(unknown[0], f"unknown parameter; allowed: {allowed}{near_name(unknown[0], specs)}")
    resolved = {}
    for name, spec in specs.items():
        if name in values:
            resolved[name] = coerce_value(spec, values[name])
        elif spec.required:
            raise ParamError(name, f"required ({spec.describe_allowed()})")
        else:
            resolved[name] = spec.default
    return resolved


def coerce_value(spec: ParamSpec, value: Any) -> Any:
    """Return ``value`` converted to the spec's type, or raise ParamError."""
    converted = _convert(spec.type, value)
    if converted is _INVALID:
        raise ParamError(spec.name, f"expected {spec.describe_allowed()}, got {brief(value)}")
    if spec.choices is not None and converted not in spec.choices:
        raise ParamError(spec.name, f"expected {spec.describe_allowed()}, got {brief(value)}")
    if not _finite(converted):
        # TOML has inf and nan. NaN compares false with every bound, infinity passes any
        # minimum, and either would be stored as JSON no reader accepts (``Infinity``).
        raise ParamError(spec.name, f"expected a finite {spec.describe_allowed()}, got {brief(value)}")
    if isinstance(converted, (int, float)) and not isinstance(converted, bool):
        too_small = spec.min is not None and converted < spec.min
        too_large = spec.max is not None and converted > spec.max
        if too_small or too_large:
            raise ParamError(spec.name, f"expected {spec.describe_allowed()}, got {brief(value)}")
    return converted


_INVALID = object()


def _finite(value: Any) -> bool:
    """False when ``value`` is, or holds (in lists, tuples, dicts), an infinite or NaN float."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(_finite(item) for item in value)
    if isinstance(value, dict):
        return all(_finite(item) for item in value.values())
    return True


def _convert(annotation: Any, value: Any) -> Any:
    origin = get_origin(annotation)
    if annotation is Any:
        return value
    if origin is Literal:
        return value if value in get_args(annotation) else _INVALID
    if origin in (typing.Union, types.UnionType):
        for option in get_args(annotation):
            converted = _convert(option, value)
            if converted is not _INVALID:
                return converted
        return _INVALID
    if annotation is type(None):
        return None if value is None else _INVALID
    if annotation is bool:
        return value if isinstance(value, bool) else _INVALID
    if annotation is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else _INVALID
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            # + 0.0 turns -0.0 into 0.0: the same value must be the same point (JSON,
            # and so the point's hash, keeps the sign).
            return float(value) + 0.0
        return _INVALID
    if annotation is str:
        return value if isinstance(value, str) else _INVALID
    if origin in (list, tuple) or annotation in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return _INVALID
        args = get_args(annotation)
        item_type = args[0] if args else Any
        items = [_convert(item_type, item) for item in value]
        if any(item is _INVALID for item in items):
            return _INVALID
        return list(items) if origin is list or annotation is list else tuple(items)
    if origin is dict or annotation is dict:
        return value if isinstance(value, dict) else _INVALID
    return value if isinstance(value, annotation) else _INVALID


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        # TOML has no null: an optional parameter is set by leaving it out, so "none"
        # is never something a user could write.
        options = [a for a in get_args(annotation) if a is not type(None)]
        return " | ".join(_type_name(a) for a in options)
    if origin in (list, tuple):
        args = get_args(annotation)
        return f"list of {_type_name(args[0])}" if args else "list"
    return getattr(annotation, "__name__", str(annotation))
