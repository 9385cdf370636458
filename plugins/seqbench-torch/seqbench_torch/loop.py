"""The one training loop every seqbench-torch architecture shares.

Adam/AdamW, gradient clipping, mixed precision on CUDA, optional torch.compile,
deterministic seeding, best weights kept when the harness says an epoch improved and
restored at the end. Early stopping is the harness's decision (``on_epoch``). The
training loss is summed on the device and read once per epoch, so no step waits for
the GPU.
"""

from __future__ import annotations

import contextlib
import importlib
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch

from seqbench import FitSettings
from seqbench.model import resolve_device as resolve_device_name
from seqbench.task import PAD_ID, Task
from seqbench.threads import applied as applied_threads
from seqbench_torch.objectives import objective_for

if TYPE_CHECKING:
    from seqbench_torch.base import TorchModel

__all__ = ["Trainer", "resolve_device", "network_factory", "trim_padding", "use_ieee_fp32", "fp32_math"]

AUTOCAST_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def use_ieee_fp32(device: torch.device, precision: str) -> None:
    """At ``fp32`` on CUDA, make fp32 mean IEEE fp32: torch runs cuDNN's convolutions and
    RNNs in TF32 by default (``torch.backends.cudnn.conv/rnn.fp32_precision`` are
    ``tf32``), so nn.LSTM, nn.GRU and the depthwise convolutions of an fp32 point ran on
    the tensor cores while utilisation divided by the CUDA-core peak (up to 7-8x high on
    an A100 or H100). Matmuls are set too, though IEEE is their default, so that a
    process that asked for TF32 earlier does not carry it into the point. Other
    precisions and devices are left as they are."""
    if device.type != "cuda" or precision != "fp32":
        return
    # The legacy switches first, then the per-operator ones: torch's own readers of the
    # legacy flag (cudnn.flags(), inductor's convolution templates) raise once the
    # per-operator flags disagree with it.
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.conv.fp32_precision = "ieee"  # type: ignore[attr-defined]
    torch.backends.cudnn.rnn.fp32_precision = "ieee"  # type: ignore[attr-defined]
    torch.backends.cuda.matmul.fp32_precision = "ieee"


def _resolved(flag: Any, parent: Any) -> str:
    """A per-operator fp32 precision as torch applies it: ``none`` defers to the
    backend's, then to the global one; ``none`` throughout is IEEE."""
    everywhere = torch.backends.fp32_precision  # type: ignore[attr-defined]
    for value in (flag.fp32_precision, parent.fp32_precision, everywhere):
        if value != "none":
            return str(value)
    return "ieee"


def fp32_math(device: torch.device) -> str:
    """How fp32 matmuls, convolutions and RNNs run on ``device`` by torch's flags now:
    ``ieee``, or each reduced mode and the operators using it (``tf32 (cudnn conv,
    cudnn rnn)``): what utilisation's fp32 peak refers to."""
    if device.type == "cuda":
        cuda, cudnn = torch.backends.cuda, torch.backends.cudnn
        conv, rnn = cudnn.conv, cudnn.rnn  # type: ignore[attr-defined]
        flags = {"matmul": (cuda.matmul, cuda.matmul), "cudnn conv": (conv, cudnn), "cudnn rnn": (rnn, cudnn)}
    else:
        mkldnn = torch.backends.mkldnn
        flags = {f"onednn {op}": (getattr(mkldnn, op), mkldnn) for op in ("matmul", "conv", "rnn")}
    reduced: dict[str, list[str]] = {}
    for name, (flag, parent) in flags.items():
        mode = _resolved(flag, parent)
        if mode != "ieee":
            reduced.setdefault(mode, []).append(name)
    return "; ".join(f"{mode} ({', '.join(names)})" for mode, names in reduced.items()) or "ieee"


def resolve_device(requested: str) -> torch.device:
    """The torch device for ``run.device`` (auto | cpu | cuda | cuda:N), through seqbench's
    framework-free rule (seqbench.model.resolve_device)."""
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return torch.device(resolve_device_name(requested, count, framework="torch"))


def network_factory(model: "TorchModel") -> Callable[..., torch.nn.Module]:
    """The network factory ``model.network`` names: an import path
    ``"package.module:Factory"`` (any importable module, so a third-party plugin's own
    networks train on this loop), or the factory itself."""
    network = type(model).network  # from the class: a function here must not bind to the model
    if callable(network):
        return network
    module_name, colon, attribute = str(network).partition(":")
    where = f"{type(model).__name__}.network = {network!r}"
    if not colon or not module_name or not attribute:
        raise ValueError(f"{where}: name the network factory as 'package.module:Factory'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"{where}: cannot import {module_name!r}: {error}") from None
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise ValueError(f"{where}: module {module_name!r} has no callable {attribute!r}")
    return factory


def trim_padding(tokens: np.ndarray) -> np.ndarray:
    """Drop trailing columns that are padding in every row: pad to the batch's longest."""
    used = np.flatnonzero((tokens != PAD_ID).any(axis=0))
    return tokens[:, : (used[-1] + 1 if len(used) else 1)]


class Trainer:
    def __init__(self, spec: "TorchModel", task: Task, settings: FitSettings) -> None:
        self.spec = spec
        self.signature = task.signature
        self.device = resolve_device(settings.device)
        threads = applied_threads()
        if threads is not None and torch.get_num_threads() != threads:
            # The worker set OMP_NUM_THREADS before torch loaded; this also covers a
            # torch that was imported earlier (an in-process run).
            torch.set_num_threads(threads)
        if spec.precision != "fp32" and self.device.type != "cuda":
            # CPU kernels for reduced precision are patchy (oneDNN has no bf16 LSTM here).
            raise ValueError(f"precision {spec.precision!r} needs a CUDA device; use 'fp32' on the CPU")
        use_ieee_fp32(self.device, spec.precision)
        self.fp32_math = fp32_math(self.device)
        torch.manual_seed(settings.seed)
        network = network_factory(spec)(self.signature, task, **spec.network_options())
        if not isinstance(network, torch.nn.Module):
            raise TypeError(f"{spec.network!r} built {type(network).__name__}, not a torch.nn.Module")
        self.network = network.to(self.device)
        self.train_network = torch.compile(self.network) if spec.compile else self.network
        self.objective = objective_for(self.signature)
        self.autocast_dtype = AUTOCAST_DTYPES[spec.precision]
        self.trainable = [p for p in self.network.parameters() if p.requires_grad]
        if self.trainable:
            optimizer_cls = torch.optim.AdamW if spec.optimizer == "adamw" else torch.optim.Adam
            self.optimizer = optimizer_cls(self.trainable, lr=spec.lr, weight_decay=spec.weight_decay)
        self.scaler = torch.amp.GradScaler("cuda") if spec.precision == "fp16" else None

    def _autocast(self) -> Any:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def _tensor(self, array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
        tensor = torch.from_numpy(np.ascontiguousarray(array)).to(dtype)
        return tensor.to(self.device, non_blocking=True)

    def inputs(self, inputs: np.ndarray) -> torch.Tensor:
        if self.signature.inputs == "tokens":
            return self._tensor(trim_padding(inputs), torch.long)
        return self._tensor(inputs, torch.float32)

    def targets(self, targets: np.ndarray) -> torch.Tensor:
        if self.signature.targets == "tokens" and self.signature.end_id is not None:
            targets = trim_padding(targets)
        return self._tensor(targets, self.objective.target_dtype)

    def fit(self, train, settings: FitSettings, on_epoch) -> None:
        if not self.trainable:
            return  # a fixed graph (the torch oracle): nothing to learn
        shuffle = np.random.default_rng(settings.seed)
        best: dict[str, torch.Tensor] | None = None
        for epoch in range(1, settings.epochs + 1):
            self.network.train()
            total = torch.zeros((), device=self.device)
            count = 0
            for batch in train.batches(settings.batch_size, shuffle):
                loss = self._step(self.inputs(batch.inputs), self.targets(batch.targets))
                total += loss.detach().float() * len(batch)
                count += len(batch)
            outcome = on_epoch(epoch, float(total) / count, count)
            if outcome.improved:
                best = {k: v.detach().clone() for k, v in self.network.state_dict().items()}
            if outcome.stop:
                break
        if best is not None:
            self.network.load_state_dict(best)

    def _step(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            loss = self.objective.loss(self.train_network(inputs, targets), targets)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        if self.spec.clip > 0:
            torch.nn.utils.clip_grad_norm_(self.trainable, self.spec.clip)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        return loss

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        self.network.eval()
        with torch.inference_mode(), self._autocast():
            outputs = self.network.predict(self.inputs(inputs))
        return self.objective.to_numpy(outputs)

    def device_name(self) -> str:
        """The device with CUDA's index (``cuda`` alone means the current device)."""
        if self.device.type == "cuda" and self.device.index is None:
            return f"cuda:{torch.cuda.current_device()}"
        return str(self.device)

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
