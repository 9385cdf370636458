"""Everything issue 21 asks of a GPU, in one command that ends inside a time budget.

A session lent a GPU has about 15 minutes of device time in all, so this runs once:

    bash benchmarks/gpu_session.sh                      # OUT=$OUT BUDGET_S=480 by default
    python3 benchmarks/gpu_session.py --out $OUT --budget-s 480

Steps, in order of value; each lands in ``--out`` as soon as it exists (a line of
``session.jsonl``, ``session.md`` rewritten, the stores in ``stores.tar.gz``, every
subprocess's output in ``session.log``: four files), so a run cut off still returns
what finished:

  environment  installs seqbench from this working tree without dependencies (the
               image's torch stays), then records versions, GPU and driver;
  nvml         torch:transformer on polynomial, fp32, batch 512, sized from a first
               two-epoch point to train about 40 s: the NVML counter against integrated power,
               the sampler's cost (the same point without the meter), the idle baseline
               by counter rate against averaged power, the counter's update interval;
  throughput   every torch:* model the registry lists, each on a task it serves, at
               fp32, bf16 and bf16 + compile: steady examples/s (last epoch) and FLOPs
               utilisation against the peak table;
  polynomial   the reproduction at the original's size (800,000 training pairs,
               torch:transformer's defaults: hidden 256, 3 + 3 layers, 8 heads, ff 512)
               at batch 512 and 256, as many epochs as the budget allows;
  adding       if time is left: the LSTM at T = 1000 (Le et al.) and Batuketa's attention
               at T = 100 ... 400.

``--smoke`` runs every step on the CPU at ``seqbench run --smoke`` sizes, fp32 only
(NVML reported unavailable): tests/test_gpu_session.py runs it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import gpu_checks  # noqa: E402  (beside this file; its summarise and idle probe are reused)

INSTALL = ["-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
           "-e", ".", "-e", "plugins/seqbench-tasks", "-e", "plugins/seqbench-torch"]
# The original: 1,000,000 pairs, 80% to train (of which 95% trained: 760,000, as
# suites/reproductions/polynomial.toml now has it); this timed session keeps its own sizes.
POLYNOMIAL_TRAIN = 800_000
POLYNOMIAL_EVAL = 20_000    # the suite's eval_size before it took the original's 40,000
# The task each kind of model is measured on, first that it serves (else any it serves).
PREFERRED_TASKS = ["adding", "polynomial", "gp-pairs", "subsequence"]
MARGIN_S = 15.0  # left unspent at the end: packing the stores, the summary


class Session:
    """The budget's clock, the output files and the `seqbench run` subprocesses."""

    def __init__(self, out: Path, work: Path, budget_s: float, smoke: bool) -> None:
        self.out, self.work, self.smoke = out, work, smoke
        self.started = time.monotonic()
        self.deadline = self.started + budget_s
        self.steps: list[dict[str, Any]] = []
        out.mkdir(parents=True, exist_ok=True)
        self.log = out / "session.log"

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def record(self, step: str, **fields: Any) -> dict[str, Any]:
        entry = {"step": step, "elapsed_s": round(time.monotonic() - self.started, 1), **fields}
        self.steps.append(entry)
        with open(self.out / "session.jsonl", "a") as jsonl:
            jsonl.write(json.dumps(entry, default=str) + "\n")
        (self.out / "session.md").write_text(markdown(self.steps))
        return entry

    def seqbench_run(self, name: str, suites: list[str], timeout: float,
                     without_nvml: bool = False) -> tuple[Path, int | str, float]:
        """Run the suites into a fresh store ``name``.sqlite; kill the whole process group
        at ``timeout`` seconds. Returns the store, the exit code (or "timeout") and seconds."""
        files = []
        for index, text in enumerate(suites):
            files.append(self.work / f"{name}_{index}.toml")
            files[-1].write_text(text)
        store = self.work / f"{name}.sqlite"
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        if without_nvml:
            disabled = [n for n in env.get("SEQBENCH_DISABLE_PLUGINS", "").split(",") if n]
            env["SEQBENCH_DISABLE_PLUGINS"] = ",".join([*disabled, gpu_checks.NVML_PLUGIN])
        command = [sys.executable, "-m", "seqbench", "run", *map(str, files), "--store", str(store),
                   "--fresh", *(["--smoke", "--jobs", "2"] if self.smoke else [])]
        started = time.monotonic()
        with open(self.log, "a") as log:
            log.write(f"\n=== {name}: {' '.join(command)}\n")
            log.flush()
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                       cwd=ROOT, start_new_session=True)
            try:
                code: int | str = process.wait(timeout=max(timeout, 1.0))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # its point workers too: they hold the GPU
                process.wait()
                code = "timeout"
        self.pack()
        return store, code, time.monotonic() - started

    def pack(self) -> None:
        with tarfile.open(self.out / "stores.tar.gz", "w:gz") as archive:
            for path in sorted(self.work.iterdir()):
                archive.add(path, arcname=path.name)


def in_fresh_python(code: str) -> Any:
    """``code`` printed JSON, in a new interpreter: it sees an editable install made after
    this process started, and the plugin registry as `seqbench run` does."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if result.returncode:
        raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed")
    return json.loads(result.stdout.strip().splitlines()[-1])


VERSIONS = """
import json, platform, importlib.metadata as md
info = {"python": platform.python_version()}
for name in ["seqbench", "seqbench-tasks", "seqbench-torch", "torch", "nvidia-ml-py", "setuptools", "numpy", "pandas"]:
    try: info[name] = md.version(name)
    except md.PackageNotFoundError: info[name] = None
import torch
info["cuda"] = torch.version.cuda
info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
try:
    import pynvml; pynvml.nvmlInit()
    info["driver"] = pynvml.nvmlSystemGetDriverVersion(); pynvml.nvmlShutdown()
except Exception as error:
    info["driver"] = f"unavailable: {type(error).__name__}: {error}"
print(json.dumps(info))
"""

DISCOVER = """
import json
from seqbench import registry
tasks = {}
for name, cls in registry.tasks().items():
    try: tasks[name] = cls().signature
    except Exception: pass
preferred = %r
found = []
for name, cls in registry.models().items():
    if not name.startswith("torch:") or cls.serves_every_task or cls.unavailable():
        continue
    usable = [t for t, signature in tasks.items() if cls.supports(signature)]
    usable.sort(key=lambda t: (preferred.index(t) if t in preferred else len(preferred), t))
    if usable:
        found.append([name, usable[0]])
print(json.dumps(found))
""" % PREFERRED_TASKS


def step_environment(session: Session, install: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {"platform": platform.platform()}
    if install:
        result = subprocess.run([sys.executable, *INSTALL], cwd=ROOT, capture_output=True, text=True)
        fields["install"] = {"exit": result.returncode, "tail": (result.stdout + result.stderr)[-600:]}
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    fields["commit"] = commit.stdout.strip() or None
    fields["versions"] = in_fresh_python(VERSIONS)
    try:  # this process started before the install: read the stores from the tree itself
        import seqbench  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(ROOT))
    return session.record("environment", **fields)


def toml_value(value: Any) -> str:
    """JSON spells TOML's strings, numbers, booleans and arrays; tables need TOML's own."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def suite_text(name: str, task: str, run: dict[str, Any], models: list[dict[str, Any]],
               sweep: dict[str, list[Any]] | None = None, task_params: dict[str, Any] | None = None) -> str:
    lines = [f'[suite]\nname = "{name}"\nseeds = [0]\n\n[run]']
    lines += [f"{key} = {toml_value(value)}" for key, value in run.items()]
    lines += [f'\n[task]\nname = "{task}"']
    lines += [f"{key} = {toml_value(value)}" for key, value in (task_params or {}).items()]
    if sweep:
        lines += ["\n[sweep]", *(f"{key} = {toml_value(value)}" for key, value in sweep.items())]
    for model in models:
        lines += ["\n[[model]]", *(f"{key} = {toml_value(value)}" for key, value in model.items())]
    return "\n".join(lines) + "\n"


def rows_of(store: Path) -> list[dict[str, Any]]:
    """Each run's figures that matter here, with its last epoch's examples/s (steady:
    after compilation and warm-up) from the curves."""
    from seqbench import results

    if not store.exists():
        return []
    frame = results.load(store)
    curves = results.load_curves(store, names=["examples_per_s"])
    keep = ("time.", "metric.", "meter.nvml.train.", "meter.flops.train.", "model.", "run.", "task.")
    rows = []
    for row in frame.to_dict("records"):
        picked = {k: v for k, v in row.items() if k.startswith(keep) and not _missing(v)}
        picked.update({k: row.get(k) for k in ("model", "task", "status", "error") if k in row})
        epochs = curves[curves["id"] == row["id"]] if "id" in row else curves.iloc[0:0]
        picked["epochs_run"] = int(epochs["epoch"].max()) if len(epochs) else None
        picked["steady_examples_per_s"] = float(epochs.sort_values("epoch")["value"].iloc[-1]) if len(epochs) else None
        rows.append(picked)
    return rows


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def step_nvml(session: Session, gpu: bool) -> float | None:
    """The calibration point, then the energy checks. Returns training examples/s of
    torch:transformer on polynomial at batch 512 fp32, for sizing the later steps."""
    device = "cuda" if gpu else "cpu"
    # Two epochs: the second's rate is past CUDA's start-up and autotuning.
    run = {"epochs": 2, "train_size": 20_000, "eval_size": 2_000, "batch_size": 512, "device": device}
    model = [{"name": "torch:transformer"}]
    store, code, seconds = session.seqbench_run(
        "calibrate", [suite_text("calibrate", "polynomial", run, model)], session.left() - MARGIN_S)
    (row,) = rows_of(store) or [{}]
    rate = row.get("steady_examples_per_s") or row.get("time.train_examples_per_s")
    session.record("calibrate", exit=code, seconds=round(seconds, 1), rows=[row])
    if not rate:
        return None
    # >= 30 s of training for the counter-vs-integration check (40 s aimed at), at most
    # the reproduction's data size per epoch (generating data costs time too).
    wanted = rate * 40
    train_size = int(min(POLYNOMIAL_TRAIN, max(20_000, wanted)))
    run.update(train_size=train_size, epochs=max(1, math.ceil(wanted / train_size)), sample_hz=10)
    text = suite_text("nvml", "polynomial", run, model)
    with_nvml, code, seconds = session.seqbench_run("nvml", [text], session.left() - MARGIN_S)
    probes = {}
    if gpu:
        probes["just after training"] = gpu_checks.idle_probe()
        time.sleep(10)
        probes["10 s later"] = gpu_checks.idle_probe()
    session.record("nvml_probes", exit=code, seconds=round(seconds, 1), idle_probes=probes)
    without, code, seconds = session.seqbench_run(
        "nvml_off", [text], session.left() - MARGIN_S, without_nvml=True)
    summary = gpu_checks.summarise(with_nvml, without) if with_nvml.exists() and without.exists() else {"rows": []}
    session.record("nvml", exit=code, seconds=round(seconds, 1), rows=summary["rows"],
                   train_size=run["train_size"], epochs=run["epochs"])
    return float(rate)


VARIANTS: list[dict[str, Any]] = [{"precision": "fp32"}, {"precision": "bf16"}, {"precision": "bf16", "compile": True}]


def throughput_suites(found: list[list[str]], device: str, size: int) -> list[str]:
    """A suite per (model, variant): a suite lists a model once, and a sweep of precision
    and compile would add fp32 + compile. bf16 and compile are GPU figures; the CPU
    runs fp32 only."""
    run: dict[str, Any] = {"epochs": 2, "train_size": size, "eval_size": 1_000, "batch_size": 256, "device": device}
    suites = []
    for model, task in found:
        for variant in VARIANTS if device != "cpu" else VARIANTS[:1]:
            label = "_".join(str(v) if v is not True else k for k, v in variant.items())
            suites.append(suite_text(f"throughput_{model.split(':')[1]}_{label}", task, run,
                                     [{"name": model, **variant}]))
    return suites


def step_throughput(session: Session, gpu: bool, until_left: float, size: int) -> dict[str, float]:
    """Each torch model at fp32, bf16, bf16 + compile. Returns fp32 examples/s by model."""
    found = in_fresh_python(DISCOVER)
    suites = throughput_suites(found, "cuda" if gpu else "cpu", size)
    store, code, seconds = session.seqbench_run("throughput", suites, session.left() - until_left)
    rows = rows_of(store)
    session.record("throughput", exit=code, seconds=round(seconds, 1), models=found, rows=rows)
    return {row["model"]: row["steady_examples_per_s"] for row in rows
            if row.get("model.precision", "fp32") == "fp32" and row.get("steady_examples_per_s")}


def step_polynomial(session: Session, gpu: bool, rate: float | None, until_left: float) -> None:
    """Batch 512, then 256, in one sweep: as many whole epochs of 800,000 pairs as the
    calibration says fit both. A point cut off by the budget loses only itself."""
    calibration: dict[str, Any] = next((s["rows"][0] for s in session.steps if s["step"] == "calibrate"), {})
    per_example = {phase: (calibration.get(f"time.{phase}_s") or 0) / 20_000 for phase in ("data", "eval")}
    available = session.left() - until_left
    # Each point: start-up and data (1.5x the calibration's rate, to be safe), then its
    # epochs. Batch 256 takes twice the steps: 0.7 of batch 512's rate is assumed.
    fixed = 30 + per_example["data"] * (POLYNOMIAL_TRAIN + 2 * POLYNOMIAL_EVAL) * 1.5
    validation = per_example["eval"] * POLYNOMIAL_EVAL * 1.5
    epoch = {b: POLYNOMIAL_TRAIN / (rate * f) + validation if rate else math.inf for b, f in ((512, 1.0), (256, 0.7))}
    both = epoch[512] + epoch[256]
    epochs = min(10, int((available - 2 * fixed) / both)) if both < math.inf else 0
    estimate = {"available_s": round(available), "fixed_s_estimate": round(fixed),
                "epoch_s_estimate": {b: round(e, 1) if e < math.inf else None for b, e in epoch.items()}}
    if epochs < 1 and not session.smoke:
        session.record("polynomial", skipped="not one epoch at each batch size fits the time left", **estimate)
        return
    run = {"epochs": max(epochs, 1), "train_size": POLYNOMIAL_TRAIN, "eval_size": POLYNOMIAL_EVAL,
           "device": "cuda" if gpu else "cpu", "sample_hz": 10,
           "target": {"metric": "exact_match", "value": 0.85}}
    text = suite_text("polynomial", "polynomial", run, [{"name": "torch:transformer"}],
                      # --smoke caps batches at 64: 512 and 256 would become one point
                      sweep={"run.batch_size": [32, 16] if session.smoke else [512, 256]})
    store, code, seconds = session.seqbench_run("polynomial", [text], available + 30)
    session.record("polynomial", exit=code, seconds=round(seconds, 1), epochs_planned=run["epochs"],
                   rows=rows_of(store), **estimate)


def step_adding(session: Session, gpu: bool, rates: dict[str, float]) -> None:
    """The LSTM at T = 1000 (the original: early stopping at epoch 17), then Batuketa's
    attention at T = 100 ... 400 (10 epochs), in one run. The LSTM's epochs are sized
    from the throughput step's rate to 60% of the time left."""
    left = session.left() - MARGIN_S
    if left < 30 and not session.smoke:
        session.record("adding", skipped=f"{left:.0f} s left")
        return
    device = "cuda" if gpu else "cpu"
    # --smoke shrinks sizes, not lengths: a T = 1000 LSTM takes half a minute on a CPU.
    def length(steps: int) -> int:
        return steps // 20 if session.smoke else steps

    # Seconds an epoch: 100,000 sequences 10x as long as, and in batches a quarter the
    # size of, the throughput step's (T = 100, batch 256; a step costs about the same at
    # either batch size).
    epoch_s = 100_000 * 10 * 4 / rates["torch:lstm"] if rates.get("torch:lstm") else math.inf
    lstm_epochs = max(1, min(100, int(left * 0.6 / epoch_s))) if epoch_s < math.inf else 1
    lstm = suite_text("adding_lstm_1000", "adding",
                      {"epochs": lstm_epochs, "patience": 10, "train_size": 100_000, "eval_size": 10_000,
                       "batch_size": 64, "device": device},
                      [{"name": "torch:lstm"}], task_params={"seq_len": length(1000)})
    attention = suite_text("adding_attention", "adding",
                           {"epochs": 10, "train_size": 32_000, "eval_size": 3_200, "batch_size": 32,
                            "device": device},
                           [{"name": "torch:attention"}], sweep={"task.seq_len": [length(t) for t in (100, 200, 300, 400)]})
    store, code, seconds = session.seqbench_run("adding", [lstm, attention], left)
    session.record("adding", exit=code, seconds=round(seconds, 1), lstm_epochs_planned=lstm_epochs,
                   rows=rows_of(store))


# What session.md shows of each step's rows: (label, key, format).
COLUMNS: list[tuple[str, str, str]] = [
    ("model", "model", ""), ("task", "task", ""), ("precision", "model.precision", ""),
    ("compile", "model.compile", ""), ("batch", "run.batch_size", ".0f"), ("T", "task.seq_len", ".0f"),
    ("status", "status", ""), ("epochs", "epochs_run", ""), ("train s", "time.train_s", ".1f"),
    ("ex/s (last epoch)", "steady_examples_per_s", ",.0f"), ("MFU", "meter.flops.train.utilisation", ".2%"),
    ("exact match", "metric.exact_match", ".4f"), ("mse", "metric.mse", ".3g"),
    ("energy kJ", "meter.nvml.train.energy_j", "kJ"), ("mean W", "meter.nvml.train.mean_power_w", ".0f"),
    # 0 on a GPU of our own: the first real check that NVML lists the worker by its id.
    ("others on GPU", "meter.nvml.train.other_processes", ".0f"),
]


def _cell(value: Any, form: str) -> str:
    if _missing(value):
        return "—"
    if form == "kJ":
        return f"{value / 1000:.1f}"
    return format(value, form) if isinstance(value, (int, float)) and form else str(value)


def markdown(steps: list[dict[str, Any]]) -> str:
    lines = ["# GPU session (benchmarks/gpu_session.py)", ""]
    for step in steps:
        lines.append(f"## {step['step']} (at {step['elapsed_s']} s)")
        scalars = {k: v for k, v in step.items() if k not in ("step", "elapsed_s", "rows", "idle_probes")}
        lines += [f"- {key}: {json.dumps(value, default=str)}" for key, value in scalars.items()]
        if "idle_probes" in step:
            probes = step["idle_probes"]
            lines.append(gpu_checks.markdown({"rows": [], "idle_probes": probes}).split("\n\n", 2)[-1].strip()
                         if probes else "- idle probes: none (no GPU)")
        rows = step.get("rows") or []
        if step["step"] == "nvml" and rows:
            lines += ["", gpu_checks.markdown({"rows": rows})]
            continue
        shown = [c for c in COLUMNS if any(not _missing(r.get(c[1])) for r in rows)]
        if shown:
            lines += ["", "| " + " | ".join(c[0] for c in shown) + " |", "|" + " --- |" * len(shown)]
            lines += ["| " + " | ".join(_cell(r.get(k), f) for _, k, f in shown) + " |" for r in rows]
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="where the results land ($OUT)")
    parser.add_argument("--budget-s", type=float, default=480.0, help="wall-clock seconds for the whole session")
    parser.add_argument("--smoke", action="store_true", help="every step on the CPU at --smoke sizes")
    parser.add_argument("--no-install", action="store_true", help="seqbench is installed already")
    parser.add_argument("--throughput-size", type=int, default=40_000, help="training examples an epoch, step throughput")
    args = parser.parse_args(argv)
    gpu = gpu_checks.cuda_available()
    if not gpu and not args.smoke:
        print("gpu_session: no CUDA GPU here; --smoke runs every step on the CPU", file=sys.stderr)
        return 2
    if (args.out / "session.jsonl").exists():
        (args.out / "session.jsonl").unlink()  # a rerun starts its record afresh
    with tempfile.TemporaryDirectory(prefix="gpu_session_") as work:
        session = Session(args.out, Path(work), args.budget_s, args.smoke)
        state: dict[str, Any] = {}
        budget = args.budget_s
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("environment", lambda: step_environment(session, install=not args.no_install)),
            ("nvml", lambda: state.update(rate=step_nvml(session, gpu))),
            # throughput stops where 55% of the budget is still left for the reproduction
            ("throughput", lambda: state.update(rates=step_throughput(
                session, gpu, until_left=0.55 * budget, size=args.throughput_size))),
            ("polynomial", lambda: step_polynomial(session, gpu, state.get("rate"), until_left=MARGIN_S)),
            ("adding", lambda: step_adding(session, gpu, state.get("rates") or {})),
        ]
        for name, step in steps:
            if session.left() < MARGIN_S and not args.smoke:
                session.record(name, skipped="budget spent")
                continue
            try:
                step()
            except Exception as error:  # one step's failure must not cost the others
                session.record(name, error=f"{type(error).__name__}: {error}")
        session.pack()
        session.record("done", budget_s=budget)
    print((args.out / "session.md").read_text(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
