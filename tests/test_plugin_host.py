"""The plugin host calls every registration hook through pluggy: a plugin implementing one
hook of four loads, an implementation may take fewer arguments than the spec, hook
wrappers and pluggy's call monitoring see the call, and each item still knows its plugin."""

from __future__ import annotations

from click.testing import CliRunner

from seqbench import hookimpl, plugins, registry, results
from seqbench.cli import main
from seqbench.default_plugins.oracle import Oracle
from seqbench.plugins import PluginHost, get_plugin_manager

ECHO_ONLY = '''
from seqbench import hookimpl
from seqbench.default_plugins.oracle import Oracle

class Echo(Oracle):
    name = "echo"

@hookimpl
def register_models(register):
    register(Echo)
'''

SUITE = """
[suite]
name = "one-hook"
[run]
epochs = 1
train_size = 32
eval_size = 16
batch_size = 16
device = "cpu"
[task]
name = "adding"
seq_len = 5
[[model]]
name = "echo"
"""


class Echo(Oracle):
    name = "echo"


def fresh_host(*named_plugins: tuple[str, object]) -> PluginHost:
    """A host of its own (not this process's), with ``named_plugins`` added."""
    host = PluginHost(get_plugin_manager())
    for name, plugin in named_plugins:
        host.add(plugin, name, "tests", "0")
    return host


def test_a_plugin_implementing_only_register_models_loads_and_its_model_runs(
        install_plugin, write_suite, store_path, capsys):
    install_plugin("seqbench-echo", ECHO_ONLY)
    assert registry.models().plugin_of("echo") == "seqbench-echo"
    assert "adding" in registry.tasks() and "local" in registry.executors()
    listing = CliRunner().invoke(main, ["plugins"])
    assert "seqbench-echo  (seqbench-echo 0.0.1)\n    models: echo\n" in listing.output
    assert "warning" not in capsys.readouterr().err
    result = CliRunner().invoke(main, ["run", str(write_suite(SUITE)), "--store", str(store_path)])
    assert result.exit_code == 0, result.output
    assert list(results.load(store_path)["status"]) == ["ok"]


def test_an_implementation_taking_fewer_arguments_than_the_spec_is_called(capsys):
    calls = []

    class Counter:
        @hookimpl
        def register_tasks(self):
            calls.append("called")

    host = fresh_host(("counter", Counter()))
    assert "adding" in host.registry("register_tasks")
    assert calls == ["called"]
    assert "warning" not in capsys.readouterr().err


def test_a_hook_wrapper_sees_the_call_once_and_what_it_registers_is_its_own():
    seen = []

    class Watcher:
        @hookimpl(wrapper=True)
        def register_models(self, register):
            seen.append(("before", callable(register)))
            outcome = yield
            register(Echo)
            seen.append(("after", outcome))  # pluggy's list of results: every impl returns None
            return outcome

    class OldStyle:
        @hookimpl(hookwrapper=True)
        def register_models(self, register):
            result = yield
            seen.append(("old-style", result.exception is None))

    host = fresh_host(("watcher", Watcher()), ("old-style", OldStyle()))
    models = host.registry("register_models")
    assert seen == [("before", True), ("after", []), ("old-style", True)]
    assert models.plugin_of("echo") == "watcher"
    assert models.plugin_of("oracle") == "seqbench.default_plugins.oracle"


def test_pluggy_call_monitoring_sees_every_registration_hook():
    host = fresh_host()
    calls = []
    host.pm.add_hookcall_monitoring(
        lambda name, impls, kwargs: calls.append((name, sorted(kwargs))), lambda *args: None)
    for name in host.hook_names():
        host.registry(name)
    assert host.hook_names() == ["register_executors", "register_meters", "register_models", "register_tasks"]
    assert calls == [(name, ["register"]) for name in host.hook_names()]


def test_an_implementation_that_raises_costs_one_warning_and_keeps_the_call_going(capsys):
    class Broken:
        @hookimpl(tryfirst=True)  # called before the others: pluggy would stop there
        def register_models(self, register):
            register(Echo)
            raise KeyError("oops")

    models = fresh_host(("broken", Broken())).registry("register_models")
    assert models.plugin_of("echo") == "broken" and "oracle" in models
    warnings = capsys.readouterr().err.strip().splitlines()
    assert warnings == ["warning: seqbench plugin 'broken' (tests 0) failed in register_models: KeyError: 'oops'"]


def test_the_process_host_is_made_once_and_reset_forgets_it():
    first = plugins.host()
    assert plugins.host() is first
    assert registry.models() is first.registry("register_models")
    plugins.reset()
    assert plugins.host() is not first
    assert "oracle" in registry.models()


def test_a_wrapper_that_raises_or_never_yields_costs_one_warning_each(capsys):
    class RaisesFirst:
        @hookimpl(wrapper=True)
        def register_models(self, register):
            raise ValueError("before")
            yield

    class RaisesAfter:
        @hookimpl(wrapper=True)
        def register_models(self, register):
            register(Echo)
            yield
            raise ValueError("after")

    class NeverYields:
        @hookimpl(wrapper=True)
        def register_models(self, register):
            if False:
                yield

    models = fresh_host(("first", RaisesFirst()), ("after", RaisesAfter()),
                        ("never", NeverYields())).registry("register_models")
    assert "oracle" in models and models.plugin_of("echo") == "after"
    warnings = sorted(capsys.readouterr().err.strip().splitlines())
    assert warnings == [
        "warning: seqbench plugin 'after' (tests 0) failed in register_models: ValueError: after",
        "warning: seqbench plugin 'first' (tests 0) failed in register_models: ValueError: before",
        "warning: seqbench plugin 'never' (tests 0) failed in register_models: RuntimeError: the wrapper did not yield",
    ]
