"""The GPU acceptance figures in one command, for a session that has a GPU.

Trains `torch:transformer` on `polynomial` (the polynomial reproduction's model and
data) for a fixed number of epochs at each of fp32, bf16, and fp32 and bf16 under
`torch.compile`, first with the NVML meter and then without it, each point in its own
`seqbench run` worker, and prints:

  * energy: the NVML counter against the integrated power samples per point (they
    should agree within 5% for a training phase of 30 s or more), mean and idle power;
  * the sampler's cost: training throughput with the NVML meter over without it
    (the target: under 1%);
  * precision and compile: training throughput against fp32 without compile;
  * what issue 16 changed, per point: the device and GPU (UUID) metered, idle power
    with its method and window, the counter's update interval, whether power was
    instantaneous or averaged, achieved FLOP/s and utilisation against the peak table;
  * idle right after training: the counter's rate over a settle window against the
    mean of `nvmlDeviceGetPowerUsage` over 0.5 s (what seqbench used before), just
    after the GPU was released and again after --rest seconds.

The stores, a JSON summary and a Markdown table land in ``--out``. Without a GPU
(``--smoke``, used by the tests) it trains fp32 only, tiny, and reports NVML as
unavailable.

    python benchmarks/gpu_checks.py --out DIR [--train-size 200000] [--epochs 3] [--smoke]

On the lent GPU machine (no TensorFlow, no registry access), install first with
``pip install -q --no-deps --no-build-isolation -e . -e plugins/seqbench-tasks
-e plugins/seqbench-torch``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

NVML_PLUGIN = "seqbench.default_plugins.nvml"
VARIANTS = [("fp32", False), ("bf16", False), ("fp32", True), ("bf16", True)]

SUITE = """\
[suite]
name = "gpu_checks"
description = "torch:transformer on polynomial: NVML energy, sampler cost, precision and compile"
seeds = [0]

[run]
epochs = {epochs}
train_size = {train_size}
eval_size = 2_000
batch_size = 512
device = "{device}"
sample_hz = 10

[task]
name = "polynomial"

[sweep]
model.precision = {precisions}
model.compile = {compiles}

[[model]]
name = "torch:transformer"
"""


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def run_suite(suite: Path, store: Path, smoke: bool, without_nvml: bool) -> None:
    env = dict(os.environ)
    if without_nvml:
        disabled = [name for name in env.get("SEQBENCH_DISABLE_PLUGINS", "").split(",") if name]
        env["SEQBENCH_DISABLE_PLUGINS"] = ",".join([*disabled, NVML_PLUGIN])
    command = [sys.executable, "-m", "seqbench", "run", str(suite), "--store", str(store), "--fresh"]
    subprocess.run(command + (["--smoke"] if smoke else []), env=env, check=True)


def _number(row: dict[str, Any], column: str) -> float | None:
    value = row.get(column)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _variant(row: dict[str, Any]) -> str:
    compiled = str(row.get("model.compile")).lower() in ("true", "1")
    return f"{row.get('model.precision') or 'fp32'}{' + compile' if compiled else ''}"


def summarise(with_nvml: Path, without_nvml: Path) -> dict[str, Any]:
    """Per variant: throughput with and without the meter, and the energy figures."""
    from seqbench import results

    measured = {_variant(row): row for row in results.load(with_nvml).to_dict("records")}
    unmetered = {_variant(row): row for row in results.load(without_nvml).to_dict("records")}
    baseline = _number(measured.get("fp32", {}), "time.train_examples_per_s")
    rows = []
    for name, row in measured.items():
        rate = _number(row, "time.train_examples_per_s")
        other = _number(unmetered.get(name, {}), "time.train_examples_per_s")
        counter = _number(row, "meter.nvml.train.energy_j")
        integrated = _number(row, "meter.nvml.train.integrated_energy_j")
        rows.append(
            {
                "variant": name,
                "status": row.get("status"),
                "exact_match": _number(row, "metric.exact_match"),
                "train_s": _number(row, "time.train_s"),
                "examples_per_s": rate,
                "speed_vs_fp32": rate / baseline if rate and baseline else None,
                "examples_per_s_without_nvml": other,
                "sampler_cost": 1 - rate / other if rate and other else None,
                "energy_method": row.get("meter.nvml.train.energy_method"),
                "counter_j": counter,
                "integrated_j": integrated,
                "counter_vs_integrated": integrated / counter - 1 if counter and integrated else None,
                "mean_power_w": _number(row, "meter.nvml.train.mean_power_w"),
                "idle_power_w": _number(row, "meter.nvml.train.idle_power_w"),
                "idle_method": row.get("meter.nvml.train.idle_method"),
                "idle_window_s": _number(row, "meter.nvml.train.idle_window_s"),
                "counter_interval_s": _number(row, "meter.nvml.train.counter_interval_s"),
                "power_source": row.get("meter.nvml.train.power_source"),
                "gpus": row.get("meter.nvml.train.gpus"),
                "device": json.loads(row.get("provenance") or "{}").get("device"),
                "threads": (json.loads(row.get("provenance") or "{}").get("threads") or {}).get("threads"),
                "train_flop_per_s": _number(row, "meter.flops.train.flop_per_s"),
                "train_utilisation": _number(row, "meter.flops.train.utilisation"),
                "nvml_unavailable": row.get("meter.nvml.unavailable"),
            }
        )
    return {"rows": rows}


def idle_probe(seconds: float = 3.0) -> dict[str, Any]:
    """Idle power of GPU 0 now, two ways: the energy counter's rate over ``seconds``
    (seqbench's method) and the mean averaged power reading over 0.5 s (the old one)."""
    import time

    from seqbench.meters.idle import measure_idle
    from seqbench.meters.nvml import _Gpu, start_nvml

    nvml, reason = start_nvml()
    if nvml is None:
        return {"unavailable": reason}
    try:
        gpu = _Gpu(nvml, 0)
        readings, end = [], time.monotonic() + 0.5
        while time.monotonic() < end:
            readings.append(nvml.nvmlDeviceGetPowerUsage(gpu.handle) / 1000.0)
            time.sleep(0.05)
        (figure,) = measure_idle([gpu], seconds)
        return {
            "gpu": gpu.name,
            "average_power_0_5s_w": sum(readings) / len(readings),
            "counter_rate_w": figure.power_w,
            "method": figure.method,
            "window_s": figure.window_s,
            "counter_interval_s": figure.counter_interval_s,
            "power_source": gpu.power_source,
        }
    finally:
        nvml.nvmlShutdown()


def _cell(value: Any, form: str) -> str:
    if value is None:
        return "—"
    return format(value, form) if isinstance(value, (int, float)) else str(value)


def markdown(summary: dict[str, Any]) -> str:
    lines = [
        "| variant | train s | examples/s | vs fp32 | sampler cost | counter J | integrated J | integrated/counter - 1 | mean W |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in summary["rows"]:
        cells = [
            row["variant"],
            _cell(row["train_s"], ".1f"),
            _cell(row["examples_per_s"], ",.0f"),
            _cell(row["speed_vs_fp32"], ".2f"),
            _cell(row["sampler_cost"], "+.2%"),
            _cell(row["counter_j"], ",.0f"),
            _cell(row["integrated_j"], ",.0f"),
            _cell(row["counter_vs_integrated"], "+.2%"),
            _cell(row["mean_power_w"], ".0f"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "| variant | device | GPU | idle W | idle method | window s | counter interval ms | power | train FLOP/s | MFU |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in summary["rows"]:
        interval = row["counter_interval_s"] * 1000 if row["counter_interval_s"] else None
        cells = [
            row["variant"], _cell(row["device"], ""), _cell(row["gpus"], ""),
            _cell(row["idle_power_w"], ".1f"), _cell(row["idle_method"], ""),
            _cell(row["idle_window_s"], ".1f"), _cell(interval, ".1f"), _cell(row["power_source"], ""),
            _cell(row["train_flop_per_s"], ".3g"), _cell(row["train_utilisation"], ".2%"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    for when, probe in summary.get("idle_probes", {}).items():
        if "unavailable" in probe:
            lines.append(f"\nidle probe ({when}): {probe['unavailable']}")
        else:
            lines.append(
                f"\nidle probe ({when}, {probe['gpu']}): counter rate {probe['counter_rate_w']:.1f} W over "
                f"{probe['window_s']:.1f} s; mean averaged power over 0.5 s {probe['average_power_0_5s_w']:.1f} W; "
                f"counter interval {_cell(probe['counter_interval_s'], '.4f')} s; power {probe['power_source']}"
            )
    unavailable = {row["nvml_unavailable"] for row in summary["rows"] if row["nvml_unavailable"]}
    if unavailable:
        lines.append("")
        lines.append(f"NVML unavailable: {'; '.join(sorted(unavailable))}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the stores and the summary")
    parser.add_argument("--train-size", type=int, default=200_000, help="training pairs per epoch")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="tiny, fp32 only: checks the plumbing without a GPU")
    parser.add_argument("--rest", type=float, default=20.0, help="seconds before the second idle probe")
    args = parser.parse_args(argv)
    gpu = cuda_available()
    if not gpu and not args.smoke:
        print("gpu_checks: no CUDA GPU here; --smoke runs the plumbing on the CPU", file=sys.stderr)
        return 2
    variants = VARIANTS if gpu else [("fp32", False)]
    args.out.mkdir(parents=True, exist_ok=True)
    suite = args.out / "gpu_checks.toml"
    suite.write_text(
        SUITE.format(
            epochs=args.epochs,
            train_size=args.train_size,
            device="cuda" if gpu else "cpu",
            precisions=json.dumps(sorted({precision for precision, _ in variants})),
            compiles=json.dumps(sorted({compiled for _, compiled in variants})),
        )
    )
    with_nvml, without_nvml = args.out / "with_nvml.sqlite", args.out / "without_nvml.sqlite"
    run_suite(suite, with_nvml, args.smoke, without_nvml=False)
    probes = {}
    if gpu:
        import time

        probes["just after training"] = idle_probe()
        time.sleep(args.rest)
        probes[f"after {args.rest:g} s more"] = idle_probe()
    run_suite(suite, without_nvml, args.smoke, without_nvml=True)
    summary = summarise(with_nvml, without_nvml)
    summary["idle_probes"] = probes
    table = markdown(summary)
    (args.out / "gpu_checks.json").write_text(json.dumps(summary, indent=2))
    (args.out / "gpu_checks.md").write_text(table)
    print(table, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
