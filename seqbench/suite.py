"""Suite files: read with ``tomllib``, validated completely before anything runs.

Every problem is a UserError naming the file, the key and what is allowed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqbench import registry
from seqbench.devices import check_here, planned_device
from seqbench.errors import UserError, near_name
from seqbench.model import Model, unavailable_reason
from seqbench.params import ParamError, coerce_params, coerce_value, param_specs
from seqbench.point import Point
from seqbench.settings import SMOKE_LIMITS, RunSettings, check_device
from seqbench.smoke_sizes import SMOKE_SUFFIX, looks_like_smoke_name, smoke_name, smoke_sweep
from seqbench.suite_plugins import able_models, check_model, plugin_call, task_data_version, task_signature
from seqbench.suite_input import NO_REPEAT, brief, first_repeated, parse_toml, read_bytes, shown
from seqbench.suite_run import (
    MAX_EVAL_LENGTHS, RUN_KEYS, EvalTask, check_eval_lengths, check_run_keys, check_target,
)
from seqbench.task_probe import (
    MAX_SPLIT_VALUES, check_example_size, check_split_size, probe_task, task_at, values_per_example,
)
from seqbench.task import Signature, Task

__all__ = ["Suite", "load_suite", "SECTIONS"]

SECTIONS = ("suite", "run", "task", "sweep", "model")
SUITE_KEYS = ("name", "description", "seeds")
SWEEPABLE = ("task", "run", "model")
# ``seqbench run --max-points``'s default: a suite larger than this is a typo more often
# than a plan, and expanding it takes minutes and gigabytes before anything runs.
DEFAULT_MAX_POINTS = 100_000
# NumPy's legacy seeding (np.random.seed, which keras.utils.set_random_seed calls for
# every TensorFlow point) takes 0 to 2**32 - 1: a larger seed would fail every such
# point after validation had passed it.
MAX_SEED = 2**32 - 1
# A suite's name is typed on command lines (report --suite, export) and printed in
# every line about its points.
MAX_NAME_CHARACTERS = 200
# ``smoke`` is a run setting only the --smoke option sets.


@dataclass
class Suite:
    path: Path
    name: str
    description: str
    seeds: list[int]
    file_hash: str
    points: list[Point]


def load_suite(
    path: str | Path, *, smoke: bool = False, device: str | None = None,
    max_points: int | None = DEFAULT_MAX_POINTS, gpus: int | None = None,
) -> Suite:
    """Read, validate and expand a suite file into its points; a grid of more than
    ``max_points`` points (None: no limit) is refused before it is expanded. ``gpus``:
    the GPUs the points will see (this machine's, for the local executor), against
    which every ``run.device`` is checked; None: not known here, not checked."""
    path = Path(path)
    try:
        return _load_suite(path, smoke, device, max_points, gpus)
    except RecursionError:
        # tomllib, flattening [sweep] and hashing a point all recurse into nested tables.
        raise UserError(f"{path}: tables or arrays nested too deeply to be a suite") from None


def _load_suite(path: Path, smoke: bool, device: str | None, max_points: int | None,
                gpus: int | None) -> Suite:
    content = read_bytes(path)
    raw = parse_toml(path, content)
    where = str(path)

    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown and not isinstance(raw[unknown[0]], dict):
        # ``name = "x"`` above every [section] header: a key, not a section.
        raise UserError(f"{where}: {brief(unknown[0])} = {brief(raw[unknown[0]])}: a key outside any section; "
                        f"keys go under a section header{_home_of(unknown[0])}; allowed sections: "
                        f"{', '.join(SECTIONS)}")
    if unknown:
        raise UserError(f"{where}: unknown section [{unknown[0]}]; allowed: {', '.join(SECTIONS)}"
                        f"{near_name(unknown[0], SECTIONS)}")
    for section in ("suite", "run", "task", "sweep"):
        if section in raw and not isinstance(raw[section], dict):
            raise UserError(f"{where}: [{section}] must be a table")

    header = raw.get("suite", {})
    name, description, seeds = _suite_header(where, header, default_name=path.stem)
    if smoke:
        # A smoke run checks that every point can run; more seeds add time, not coverage.
        seeds = seeds[:1]
        # Stored apart from the suite's full-size runs: never reported, resumed or
        # compared as them.
        name = smoke_name(name)
    if device is not None:
        try:
            check_device(device)
        except ParamError as error:
            raise UserError(f"--device: {error.message}") from None
    run_values = dict(raw.get("run", {}))
    check_run_keys(where, run_values)
    task_values = dict(raw.get("task", {}))
    if "name" not in task_values:
        raise UserError(f"{where}: [task] name is required; available: {_available('tasks')}")
    task_name = task_values.pop("name")
    if not isinstance(task_name, str):
        raise UserError(f"{where}: [task] name must be a string; available: {_available('tasks')}")
    task_cls = _lookup(where, "[task] name", registry.tasks(), task_name)
    models = _model_entries(where, raw.get("model"))
    sweep = _sweep_axes(where, raw.get("sweep", {}), task_cls, models)
    _check_size(where, sweep, models, seeds, max_points)
    _check_probe_count(where, sweep, run_values, max_points)
    if smoke:
        sweep = smoke_sweep(sweep, task_cls, task_values)

    points: dict[str, Point] = {}
    # Each distinct task configuration (its parameters) is built into a signature, its
    # eval lengths' tasks and its probe once, whatever the number of grid points
    # (run and model axes, models, seeds) sharing it.
    configs: dict[str, _Config] = {}
    eval_lists: dict[tuple[str, tuple[int, ...], bool], tuple[int, int] | None] = {}
    axes = list(sweep.items())
    for combination in itertools.product(*(values for _, values in axes)):
        chosen = {key: value for (key, _), value in zip(axes, combination)}
        task_params, task = _resolve_task(where, task_cls, task_values, chosen, smoke)
        probe_key = json.dumps(task_params, sort_keys=True, default=repr)
        config = configs.get(probe_key)
        if config is None:
            config = configs[probe_key] = _Config(
                task, task_signature(where, task_name, task), task_data_version(where, task_name, task),
                task_params, set(_swept_values(chosen, "task")))
        signature, data_version = config.signature, config.data_version
        run_values_resolved = _resolve_run(where, run_values, chosen, smoke, device, gpus)
        lengths = run_values_resolved["eval_lengths"]
        eval_swept = "run.eval_lengths" in chosen
        if lengths is not None:
            list_key = (probe_key, tuple(lengths), eval_swept)
            if list_key not in eval_lists:  # a list checked once per task configuration
                key = "[sweep] run.eval_lengths" if eval_swept else "[run] eval_lengths"
                built = check_eval_lengths(where, task_cls, task_params, lengths, eval_swept, config.eval_built)
                for length in lengths:
                    config.eval_keys.setdefault(length, key)
                # The length whose test split is largest, for the split-size check.
                eval_lists[list_key] = max(((built[n].values, n) for n in lengths), default=None)
        target_key = "[sweep] run.target" if "run.target" in chosen else "[run] target"
        check_target(f"{where}: {target_key}", task_cls, run_values_resolved["target"])
        # Built once, validated: the settings every step after this one reads.
        run = RunSettings.from_dict(run_values_resolved)
        # What each model's validate() sees: the device the point will get, where known.
        planned = dataclasses.replace(run, device=planned_device(run.device, gpus))
        for index, (model_name, model_cls, model_values) in enumerate(models):
            model_params = _resolve_model(
                where, index, model_cls, model_values, chosen, smoke
            )
            key = f"[[model]] #{index + 1} {model_name!r}"
            if not plugin_call(where, key, registry.models(), model_name, "supports()",
                               lambda: model_cls.supports(signature)):
                raise UserError(
                    f"{where}: [[model]] {model_name!r} cannot serve task {task_name!r} "
                    f"({signature.describe()}); models that can: {', '.join(able_models(signature)) or 'none'}"
                )
            check_model(where, key, model_name, model_cls, model_params, task, planned, chosen)
            for seed in seeds:
                point = Point(
                    suite=name,
                    task=task_name,
                    task_params=task_params,
                    model=model_name,
                    model_params=model_params,
                    run=run,
                    seed=seed,
                    swept=tuple(sweep),
                    task_data_version=data_version,
                )
                # Axes a model does not have (model.hidden for the oracle) collapse here.
                points.setdefault(point.hash, point)
        # After the checks that name a setting, and before anything is made: sizes
        # from the signatures alone.
        if not config.sized:
            check_example_size(where, task_at(config.task, config.params, config.swept), config.signature)
            config.sized = True
        _check_splits(where, chosen, run, config, eval_lists[list_key] if lengths is not None else None)

    # Making examples costs more than reading a value: only once every grid point's
    # values passed, so a mistake the user can fix by its key is reported first. One
    # probe per distinct task configuration, one per distinct evaluation length of it.
    # Each configuration let go once probed: a task keeps what it computed for its
    # examples (gp-pairs: a factored 4,096-point covariance, 128 MiB), and nine of them
    # held at once took 1.8 GB.
    # An evaluation length's task is often the same for every configuration of a sweep
    # (only the training length swept): probed once.
    probed_eval: set[str] = set()
    for probe_key in list(configs):
        config = configs.pop(probe_key)
        probe_task(where, config.task, config.signature, config.params, config.swept)
        for length in list(config.eval_built):
            evaluated = config.eval_built.pop(length)
            params = {**config.params, str(task_cls.length_param): length}
            evaluated_key = json.dumps(params, sort_keys=True, default=repr)
            if evaluated_key in probed_eval:
                continue
            probed_eval.add(evaluated_key)
            probe_task(where, evaluated.task, evaluated.signature, params, config.swept,
                       ("test",), (config.eval_keys[length], length))

    file_hash = hashlib.sha256(content).hexdigest()
    return Suite(path, name, description, seeds, file_hash, list(points.values()))


@dataclass
class _Config:
    """A distinct task configuration of the grid: its task (as first built), what it
    says of itself, and its evaluation lengths' tasks, checked."""

    task: Task
    signature: Signature
    data_version: int | None
    params: dict[str, Any]
    swept: set[str]  # its parameters a [sweep] axis chose
    eval_built: dict[int, EvalTask] = dataclasses.field(default_factory=dict)
    eval_keys: dict[int, str] = dataclasses.field(default_factory=dict)  # the key that listed each length
    sized: bool = False  # its example size checked (check_example_size)

    @property
    def size(self) -> int:
        return values_per_example(self.signature)


def _check_splits(where: str, chosen: dict[str, Any], run: RunSettings, config: _Config,
                  longest: tuple[int, int] | None) -> None:
    """The point's splits within MAX_SPLIT_VALUES: train_size and eval_size examples at
    the training length, and eval_size at the evaluation length of largest examples
    (``longest``: its values an example and the length)."""
    largest = max(config.size, longest[0] if longest is not None else 0)
    if max(run.train_size, run.eval_size) * largest <= MAX_SPLIT_VALUES:
        return  # every grid point passes here: its messages are only worded on failure
    at = task_at(config.task, config.params, config.swept)
    keys = {setting: f"[sweep] run.{setting}" if f"run.{setting}" in chosen else f"[run] {setting}"
            for setting in ("train_size", "eval_size")}
    check_split_size(where, keys["train_size"], run.train_size, at, config.size)
    check_split_size(where, keys["eval_size"], run.eval_size, at, config.size)
    if longest is not None:
        values, length = longest
        at_length = task_at(config.task, config.params, config.swept, (config.eval_keys[length], length))
        check_split_size(where, keys["eval_size"], run.eval_size, at_length, values)


def _check_probe_count(where: str, sweep: dict[str, list[Any]], run_values: dict[str, Any],
                       max_points: int | None) -> None:
    """Refuse, before anything is built, a grid whose validation would probe more task
    configurations (each distinct task, and each at every evaluation length) than
    ``max_points``: each probe makes examples, which can take seconds."""
    if max_points is None:
        return
    tasks = math.prod(len(values) for key, values in sweep.items() if key.startswith("task."))
    given = sweep["run.eval_lengths"] if "run.eval_lengths" in sweep else [run_values.get("eval_lengths")]
    lists: list[list[Any]] = [values for values in given if isinstance(values, list)]
    if any(len(values) > MAX_EVAL_LENGTHS for values in lists):
        return  # refused with its own message while the grid is checked
    count = tasks * (1 + sum(len(values) for values in lists))
    if count > max_points:
        raise UserError(
            f"{where}: [sweep] makes up to {count:,} task configurations to probe ({tasks:,} of "
            f"[task], each at its length and at every one of eval_lengths), more than --max-points "
            f"{max_points:,}; raise --max-points to validate them all")


def _check_size(
    where: str, sweep: dict[str, list[Any]], models: list[ModelEntry], seeds: list[int],
    max_points: int | None,
) -> None:
    """Refuse a grid over ``max_points`` from its axes' lengths, before expanding it."""
    count = math.prod(len(values) for values in sweep.values()) * len(models) * len(seeds)
    if max_points is not None and count > max_points:
        sizes = " x ".join([*(f"{len(v)} {k}" for k, v in sweep.items()),
                            f"{len(models)} models", f"{len(seeds)} seeds"])
        raise UserError(
            f"{where}: [sweep] makes up to {count:,} points ({sizes}), more than --max-points "
            f"{max_points:,}; raise --max-points to run them all")


def _home_of(key: str) -> str:
    """`` (name belongs under [suite])`` for a key one section takes, else empty."""
    owners = (("suite", SUITE_KEYS), ("run", RUN_KEYS), ("task", ("name",)))
    homes = [f"[{section}]" for section, keys in owners if key in keys]
    return f" ({key} belongs under {' or '.join(homes)})" if homes else ""


def _available(kind: str) -> str:
    return ", ".join(getattr(registry, kind)().names()) or "none installed"


def _lookup(where: str, key: str, reg: registry.Registry[Any], name: str) -> Any:
    try:
        cls = reg.get(name)
    except UserError as error:
        raise UserError(f"{where}: {key}: {error}") from None
    # Its declared parameters are read from here on: a class that is not a dataclass, or
    # whose annotations do not resolve, is the plugin's failure, named once here.
    plugin_call(where, key, reg, name, "its parameters (dataclass fields)", lambda: param_specs(cls))
    return cls


def _suite_header(where: str, header: dict[str, Any], default_name: str) -> tuple[str, str, list[int]]:
    unknown = sorted(set(header) - set(SUITE_KEYS))
    if unknown:
        raise UserError(f"{where}: [suite] {unknown[0]}: unknown key; allowed: {', '.join(SUITE_KEYS)}"
                        f"{near_name(unknown[0], SUITE_KEYS)}")
    name = header.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        raise UserError(f"{where}: [suite] name: expected a non-empty string, got {brief(name)}")
    if not name.isprintable() or len(name) > MAX_NAME_CHARACTERS:
        # Control, format and separator characters (newlines, ESC, NUL, direction
        # overrides) cannot be typed after --suite, and forge or hide text where printed.
        taken = "" if "name" in header else " (the file's name: no [suite] name is given)"
        raise UserError(
            f"{where}: [suite] name: expected printable text of at most {MAX_NAME_CHARACTERS} characters "
            f"(no control or format characters, no separator but the space), got {brief(name)}{taken}")
    if name != name.strip():
        # ' x ' cannot be found by --suite x, and 'x [smoke] ' passed the smoke check
        # below, to be stored as 'x [smoke]  [smoke]'.
        raise UserError(f"{where}: [suite] name: {brief(name)} starts or ends with whitespace; "
                        "allowed: a name without spaces around it")
    if looks_like_smoke_name(name):
        folded = "" if name.endswith(SMOKE_SUFFIX) else " (read with its full-width or compatibility characters as plain ones)"
        raise UserError(f"{where}: [suite] name: {name!r} ends in {SMOKE_SUFFIX.strip()!r}{folded}, which "
                        "marks the runs of `seqbench run --smoke`; choose another name")
    description = header.get("description", "")
    if not isinstance(description, str):
        raise UserError(f"{where}: [suite] description: expected a string, got {brief(description)}")
    seeds = header.get("seeds", [0])
    valid = (
        isinstance(seeds, list)
        and seeds
        # The store keeps a seed in an SQLite INTEGER, which holds 64 signed bits.
        and all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_SEED for s in seeds)
    )
    if not valid:
        raise UserError(
            f"{where}: [suite] seeds: expected a non-empty list of integers between 0 and "
            f"{MAX_SEED}, got {shown(seeds)}"
        )
    if len(set(seeds)) != len(seeds):
        raise UserError(f"{where}: [suite] seeds: repeated seed in {shown(seeds)}")
    return name, description, list(seeds)


ModelEntry = tuple[str, type[Model], dict[str, Any]]


def _model_entries(where: str, raw_models: Any) -> list[ModelEntry]:
    if raw_models is None or raw_models == []:
        raise UserError(
            f"{where}: no [[model]] given; add at least one, available: {_available('models')}"
        )
    if not isinstance(raw_models, list) or not all(isinstance(v, dict) for v in raw_models):
        raise UserError(f"{where}: [[model]] must be an array of tables (write [[model]], not [model])")
    entries: list[ModelEntry] = []
    for index, values in enumerate(raw_models, start=1):
        values = dict(values)
        name = values.pop("name", None)
        if name is None:
            raise UserError(
                f"{where}: [[model]] #{index}: name is required; available: {_available('models')}"
            )
        if not isinstance(name, str):
            raise UserError(
                f"{where}: [[model]] #{index} name: expected a string, got {brief(name)}; "
                f"available: {_available('models')}"
            )
        cls = _lookup(where, f"[[model]] #{index} name", registry.models(), name)
        reason = plugin_call(where, f"[[model]] #{index} name", registry.models(), name,
                             "unavailable()", lambda: unavailable_reason(cls))
        if reason:
            raise UserError(f"{where}: [[model]] #{index} name: model {name!r} is unavailable: {reason}")
        entries.append((name, cls, values))
    counts = Counter(name for name, _, _ in entries)
    duplicates = sorted(name for name, count in counts.items() if count > 1)
    if duplicates:
        raise UserError(
            f"{where}: [[model]] {duplicates[0]!r} is listed twice; sweep its parameters "
            f"with [sweep] model.<name> instead"
        )
    return entries


def _flatten(where: str, table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if "." in key:
            # A quoted "task.seq_len" would flatten to the same axis as task.seq_len (TOML
            # keeps both), and one would silently replace the other: one spelling only.
            raise UserError(f"{where}: [sweep] {brief(dotted)}: a quoted key holding a dot; "
                            "write it unquoted (task.<param>, run.<setting> or model.<param>)")
        if isinstance(value, dict):
            flat.update(_flatten(where, value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def _sweep_axes(
    where: str, table: dict[str, Any], task_cls: type[Task], models: list[ModelEntry]
) -> dict[str, list[Any]]:
    axes: dict[str, list[Any]] = {}
    for key, values in _flatten(where, table).items():
        section, _, name = key.partition(".")
        if section not in SWEEPABLE or not name or "." in name:
            raise UserError(
                f"{where}: [sweep] {key}: keys must be task.<param>, run.<setting> or "
                f"model.<param>"
            )
        if name == "name":
            raise UserError(f"{where}: [sweep] {key}: names cannot be swept; list [[model]] entries instead")
        if not isinstance(values, list) or not values:
            raise UserError(f"{where}: [sweep] {key}: expected a non-empty list of values, got {brief(values)}")
        if section == "task":
            known = [spec.name for spec in param_specs(task_cls)]
        elif section == "run":
            known = list(RUN_KEYS)
        else:
            known = sorted({spec.name for _, cls, _ in models for spec in param_specs(cls)})
        if name in ("seed", "seeds") and name not in known:
            raise UserError(f"{where}: [sweep] {key}: seeds are not swept; list them in [suite] seeds "
                            "(every point runs once per seed)")
        if name not in known:
            owner = {"task": f"task {task_cls.name!r}", "run": "[run]", "model": "any model in this suite"}[section]
            raise UserError(
                f"{where}: [sweep] {key}: unknown parameter of {owner}; "
                f"allowed: {', '.join(known) or 'none'}{near_name(name, known)}"
            )
        # Each value's type before the repeat check: true is not a repeat of 1 (Python's
        # True == 1), it is a boolean where an int belongs.
        _check_axis_types(where, key, section, name, task_cls, values)
        repeated = first_repeated(values)
        if repeated is not NO_REPEAT:
            raise UserError(f"{where}: [sweep] {key}: repeated value {brief(repeated)} in {shown(values)}")
        axes[key] = values
    return axes


def _check_axis_types(where: str, key: str, section: str, name: str, task_cls: type[Task],
                      values: list[Any]) -> None:
    """Each value of a task or run axis against its declared type and bounds (the
    message the grid point would give). Model axes are typed per model, at each grid
    point; ``run.target`` (a table) is checked against the task there too."""
    owner: type = task_cls if section == "task" else RunSettings
    if section == "model" or name == "target":
        return
    spec = next(spec for spec in param_specs(owner) if spec.name == name)
    for value in values:
        try:
            coerce_value(spec, value)
        except ParamError as error:
            raise UserError(f"{where}: [sweep] {section}.{error}") from None


def _swept_values(chosen: dict[str, Any], section: str) -> dict[str, Any]:
    prefix = section + "."
    return {key[len(prefix) :]: value for key, value in chosen.items() if key.startswith(prefix)}


def _coerce(
    where: str, context: str, section: str, cls: type, values: dict[str, Any], swept: set[str]
) -> dict[str, Any]:
    try:
        return coerce_params(cls, values)
    except ParamError as error:
        if error.key in swept:
            raise UserError(f"{where}: [sweep] {section}.{error}") from None
        raise UserError(f"{where}: {context} {error}") from None


def _set(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` without the unset (None) ones. They stay out of a point as they stay
    out of its hash: a parameter that a later plugin version adds with a None default
    leaves every earlier point's JSON (what a worker reads, what --benchmark-json
    lists) as it was."""
    return {name: value for name, value in params.items() if value is not None}


def _resolve_task(
    where: str, task_cls: type[Task], values: dict[str, Any], chosen: dict[str, Any], smoke: bool
) -> tuple[dict[str, Any], Task]:
    """The task's parameters at this grid point, and the task they make (built once:
    the validation's instance is the one the point's checks read)."""
    swept = _swept_values(chosen, "task")
    merged = {**values, **swept}

    def construct(params: dict[str, Any]) -> Task:
        task: Task = plugin_call(where, "[task] name", registry.tasks(), task_cls.name, f"{task_cls.name}(...)",
                                 lambda: task_cls(**params), (ValueError, TypeError))
        return task

    if smoke:
        # A swept parameter was shrunk as an axis (smoke_sizes.smoke_sweep): never collapse it.
        overrides = {k: v for k, v in task_cls.smoke.items() if k not in swept}
        shrunk = _set(_coerce(where, "[task]", "task", task_cls, {**merged, **overrides}, set(swept)))
        try:
            return shrunk, construct(shrunk)
        except (ValueError, TypeError):
            # The task's smoke sizes do not fit this suite's other values (a smoke length
            # of 16 with pairs = 32): the task runs at the suite's own values, and only
            # an error those make is the suite's.
            pass
    params = _set(_coerce(where, "[task]", "task", task_cls, merged, set(swept)))
    try:
        task = construct(params)
    except (ValueError, TypeError) as error:
        # A rule across parameters that a swept value breaks: name the value, since the
        # [task] table is fine at the axis' other values.
        at = ", ".join(f"task.{key} = {brief(value)}" for key, value in sorted(swept.items()))
        raise UserError(f"{where}: [task] {task_cls.name}{f' at [sweep] {at}' if at else ''}: "
                        f"{_unprefixed(str(error), task_cls.name)}") from None
    return params, task


def _unprefixed(message: str, name: str) -> str:
    """A task's own message without the ``name: `` it may begin with: the line already
    names the task (``[task] parity: parity: min_length ...`` read twice)."""
    for prefix in (f"{name}: ", f"task {name!r}: "):
        if message.startswith(prefix):
            return message[len(prefix):]
    return message


def _resolve_run(
    where: str, values: dict[str, Any], chosen: dict[str, Any], smoke: bool, device: str | None,
    gpus: int | None,
) -> dict[str, Any]:
    """The run settings' values, complete, as ``RunSettings.from_dict`` takes them; the
    target is still the table as written (checked against the task by the caller)."""
    swept = _swept_values(chosen, "run")
    merged = {**values, **swept}
    # A table, not a Target yet: _check_target says what is wrong with it.
    target = merged.pop("target", None)
    if target is not None and not isinstance(target, dict):  # [run]'s was checked already
        raise UserError(f"{where}: [sweep] run.target: expected dict, got {brief(target)}")
    params = _coerce(where, "[run]", "run", RunSettings, merged, set(swept))
    params["target"] = target
    try:
        check_device(params["device"])
    except ParamError as error:
        context = "[sweep] run." if "device" in swept else "[run] "
        raise UserError(f"{where}: {context}{error}") from None
    # The file is validated as written; --device then wins over [run] and [sweep] alike.
    if device is not None:
        params["device"] = device
    if gpus is not None:
        try:
            check_here(params["device"], gpus)
        except ValueError as error:
            source = "--device" if device is not None else (
                f"{where}: [sweep] run.device" if "device" in swept else f"{where}: [run] device")
            raise UserError(f"{source}: {error}") from None
    if smoke:
        for key, limit in SMOKE_LIMITS.items():
            if key not in swept:  # a swept one was shrunk as an axis (smoke_sweep)
                params[key] = min(params[key], limit)
        params["smoke"] = True
    return params


def _resolve_model(
    where: str,
    index: int,
    model_cls: type[Model],
    values: dict[str, Any],
    chosen: dict[str, Any],
    smoke: bool,
) -> dict[str, Any]:
    # A parameter the model ignores is not an axis of its points (Model.ignores).
    declared = {spec.name for spec in param_specs(model_cls)} - model_cls.ignores
    swept = {k: v for k, v in _swept_values(chosen, "model").items() if k in declared}
    merged = {**values, **swept}
    if smoke:
        # A model's smoke sizes are its sizes under --smoke, swept or not: a smoke run
        # checks that each model runs at each length, not how it scales with its size.
        merged.update(model_cls.smoke)
    context = f"[[model]] #{index + 1} {model_cls.name!r}"
    return _set(_coerce(where, context, "model", model_cls, merged, set(swept)))
