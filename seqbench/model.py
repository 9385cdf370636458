"""The model contract: what a model plugin implements.

A model is a dataclass whose fields are its hyper-parameters. The harness builds it
for a task, hands its training loop the data, the run settings and a callback to
report each epoch (the harness scores validation and decides early stopping, so
every framework stops by the same rule), then asks it for NumPy predictions.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar

import numpy as np

from seqbench.params import ParamError
from seqbench.settings import FitSettings, RunSettings, check_device
from seqbench.task import Signature, Task

if TYPE_CHECKING:
    from seqbench.data import Split

__all__ = ["Model", "FitSettings", "EpochOutcome", "EpochCallback", "resolve_device",
           "unavailable_reason"]


@dataclass(frozen=True)
class EpochOutcome:
    """The harness's answer to an epoch report."""

    stop: bool  # early stopping says stop now
    improved: bool  # this epoch is the best so far: keep its weights


EpochCallback = Callable[[int, float, int], EpochOutcome]
"""``on_epoch(epoch, train_loss, examples_seen)`` -> EpochOutcome; epochs count from 1.

``examples_seen`` is the number of training examples *this epoch* used, not a running
total since the first epoch: seqbench sums the epochs itself (throughput figures divide
by it), and the conformance kit refuses a running total."""


def resolve_device(requested: str, gpu_count: int, framework: str = "the framework") -> str:
    """``run.device`` (auto | cpu | cuda | cuda:N) as ``"cpu"`` or ``"cuda:N"``, given
    how many CUDA devices ``framework`` sees, for a model's ``build``.

    ``auto`` is the first GPU when there is one, else the CPU; ``cuda`` is ``cuda:0``.
    Asking for a GPU that is not there raises RuntimeError saying so (seqbench reports
    it as the point's error). A framework plugin maps the answer to its own device
    names (``torch.device(name)``; TensorFlow's ``/GPU:N``).
    """
    if requested == "auto":
        return "cuda:0" if gpu_count > 0 else "cpu"
    if requested == "cpu":
        return "cpu"
    try:
        check_device(requested)
    except ParamError:
        raise ValueError(f"run.device is {requested!r}; expected auto, cpu, cuda or cuda:N") from None
    index = int(requested.partition(":")[2] or 0)
    if gpu_count == 0:
        raise RuntimeError(f"run.device is {requested!r} but {framework} sees no CUDA device")
    if index >= gpu_count:
        raise RuntimeError(f"run.device is {requested!r} but {framework} sees only {gpu_count} CUDA device(s)")
    return f"cuda:{index}"


class Model:
    """Base class for models. Subclasses are dataclasses; their fields are hyper-parameters.

    Class attributes a model sets:
      name: ``<framework>:<architecture>`` (the NumPy oracle is plain ``oracle``).
      framework: "numpy", "torch", "tensorflow", ...
      serves: the (input kind, target kind) pairs it can learn, see Signature;
        or serves_every_task = True.
      smoke: hyper-parameter overrides ``seqbench run --smoke`` applies.
      ignores: inherited hyper-parameters it has no use for (an oracle's learning
        rate): left out of ``seqbench models``, and a [sweep] of one does not multiply
        the model's points. They keep their defaults, so its points keep their hashes.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    framework: ClassVar[str] = "numpy"
    serves: ClassVar[frozenset[tuple[str, str]]] = frozenset()
    serves_every_task: ClassVar[bool] = False  # oracles: they ask the task for its answer
    smoke: ClassVar[dict[str, Any]] = {}
    ignores: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def supports(cls, signature: Signature) -> bool:
        return cls.serves_every_task or signature.kind in cls.serves

    @classmethod
    def unavailable(cls) -> str | None:
        """None when the model can run here; else why not and how to fix it (the install
        command). Must answer without importing the framework: listings call it.

        A classmethod when overridden too: seqbench calls it on the class, before any
        model exists, so a plain method is refused as a broken model (named in
        ``seqbench models``, one line for a suite that uses it), as the conformance kit
        refuses it."""
        return None

    def validate(self, task: Task, run: RunSettings) -> None:
        """Refuse a point this model cannot run, before anything runs: raise ValueError
        saying what is wrong and what is allowed (``precision 'bf16' needs a CUDA
        device; allowed on the CPU: fp32``). Optional; the default accepts every point.

        Suite validation calls it for every point of the grid, on the model made from
        the point's hyper-parameters (so ``__post_init__`` has run: constraints among
        the model's own fields, like heads dividing the width, belong there), with the
        point's task and run settings. ``run.device`` is where the point will run as
        far as is known before it starts: ``auto`` is already ``cpu`` or ``cuda:0`` for
        the local executor, and stays ``auto`` for one that runs points elsewhere (Ray).
        Called up to once per point of a large grid: answer from the fields, quickly,
        without importing the framework."""

    @classmethod
    def serves_text(cls) -> str:
        if cls.serves_every_task:
            return "every task"
        return ", ".join(f"{i} -> {t}" for i, t in sorted(cls.serves)) or "nothing"

    def build(self, task: Task, settings: FitSettings) -> None:
        """Size the model for ``task`` (its signature) and place it on ``settings.device``
        (``resolve_device`` turns ``auto`` into a device); called once, before ``fit``
        and ``predict``."""

    def fit(self, train: "Split", settings: FitSettings, on_epoch: EpochCallback) -> None:
        """Train on ``train``, calling ``on_epoch`` after every epoch; stop when it says so."""
        raise NotImplementedError

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        """Predictions for a batch of inputs, shaped as the task's ``solve`` returns.

        Tested at another length (``run.eval_lengths``), a model built for one signature
        may answer sequence targets with its own width, narrower than the targets: the
        task's ``score`` accepts that and counts the positions not answered as wrong."""
        raise NotImplementedError

    def synchronize(self) -> None:
        """Wait for the model's device to finish queued work; the harness calls this
        before every clock read so asynchronous GPUs are timed honestly."""

    def devices(self) -> list[str] | None:
        """The devices the built model runs on (``cpu``, ``cuda:0``, ...), with CUDA's
        numbering: the harness meters exactly these GPUs and records them. None when
        the model cannot say; NumPy models run on the CPU."""
        return ["cpu"] if self.framework == "numpy" else None

    def flops(self, inputs: np.ndarray, targets: np.ndarray) -> dict[str, float] | None:
        """Model FLOPs for this batch, per example: ``{"train_per_example": forward and
        backward, "predict_per_example": one prediction, "method": how counted}``, a
        multiply-add counting 2. Called once after training; it must not change the
        model. None (the default): not known.

        Optional keys: ``lower_bound`` (True where the count leaves out products the
        model makes, such as FFT convolutions or scan updates) and ``omitted`` (what it
        leaves out, in words). A model may also define ``predict_flops(inputs) ->
        float | None``, one prediction's FLOPs per example for a batch of inputs:
        seqbench calls it on the first validation and test batch (whose lengths may
        differ from training's) and otherwise calls ``flops`` again there."""
        return None


def known_to_run_on_cpu(model_cls: type) -> bool:
    """Whether a model class runs on the CPU before it is built: a NumPy model keeping
    ``Model.devices``'s answer (``cpu``). Others say where only once built."""
    return getattr(model_cls, "framework", None) == "numpy" and getattr(model_cls, "devices", None) is Model.devices


def unavailable_reason(model_cls: type[Model]) -> str | None:
    """``model_cls.unavailable()``, checked: a plain (instance) method or an answer
    other than None or a string raises TypeError (the plugin's bug, which callers report
    through ``Registry.call``)."""
    if not isinstance(inspect.getattr_static(model_cls, "unavailable", None), (classmethod, staticmethod)):
        raise TypeError("unavailable is a plain method; seqbench calls it on the class, so "
                        "write it as @classmethod def unavailable(cls) -> str | None")
    reason = model_cls.unavailable()
    if reason is not None and not isinstance(reason, str):
        raise TypeError(f"unavailable() returned {reason!r}; expected None or a reason (str)")
    return reason or None
