"""``seqbench report --tensorboard DIR``: each run's per-epoch curves as TensorBoard
event files, so ``tensorboard --logdir DIR`` shows them as the original experiments did.

Written by hand, without TensorFlow or the tensorboard package: an event file is a
sequence of TFRecords (length, masked CRC-32C of the length, data, masked CRC-32C of
the data) whose data are ``Event`` protocol buffers holding ``Summary`` scalars. The
few fields used are encoded here; ``tests/test_tensorboard.py`` reads the files back
with tensorboard's own ``EventAccumulator``.
"""

from __future__ import annotations

import math
import struct
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

from seqbench.paths import distinct_safe_names, own_file, own_folders, safe_name

if TYPE_CHECKING:
    import pandas as pd

    from seqbench.report.sets import ResultSet

__all__ = ["write_runs", "crc32c", "masked_crc32c", "event", "record", "read_records", "tag_of"]

FILE_VERSION = b"brain.Event:2"
_POLYNOMIAL = 0x82F63B78  # CRC-32C (Castagnoli), reflected


def _table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLYNOMIAL if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def record(data: bytes) -> bytes:
    """One TFRecord: the framing TensorFlow's RecordWriter uses."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc32c(length)) + data + struct.pack("<I", masked_crc32c(data))


def read_records(data: bytes) -> Iterator[bytes]:
    """The data of each TFRecord in ``data``, checking both CRCs."""
    position = 0
    while position < len(data):
        length_bytes = data[position:position + 8]
        (length,) = struct.unpack("<Q", length_bytes)
        (length_crc,) = struct.unpack("<I", data[position + 8:position + 12])
        if length_crc != masked_crc32c(length_bytes):
            raise ValueError(f"corrupt record length at byte {position}")
        body = data[position + 12:position + 12 + length]
        (body_crc,) = struct.unpack("<I", data[position + 12 + length:position + 16 + length])
        if body_crc != masked_crc32c(body):
            raise ValueError(f"corrupt record data at byte {position}")
        yield body
        position += 16 + length


# Protocol buffer wire format: varint (0), 64-bit (1), length-delimited (2), 32-bit (5).
def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # int64 as protobuf writes it: two's complement
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _bytes(number: int, value: bytes) -> bytes:
    return _field(number, 2) + _varint(len(value)) + value


def event(wall_time: float, step: int, scalars: dict[str, float] | None = None,
          file_version: bytes | None = None) -> bytes:
    """An ``Event`` (wall_time = 1, step = 2, file_version = 3, summary = 5) whose
    ``Summary`` holds one ``Value`` (tag = 1, simple_value = 2) per scalar."""
    out = _field(1, 1) + struct.pack("<d", wall_time) + _field(2, 0) + _varint(step)
    if file_version is not None:
        out += _bytes(3, file_version)
    if scalars:
        values = b"".join(
            _bytes(1, _bytes(1, tag.encode()) + _field(2, 5) + struct.pack("<f", _float32(value)))
            for tag, value in scalars.items()
        )
        out += _bytes(5, values)
    return out


FLOAT32_MAX = 3.4028234663852886e38


def _float32(value: float) -> float:
    """``value`` as a float32 can hold it: past its range, an infinity of that sign (a
    store's 1e300 would otherwise fail the whole export: struct refuses it)."""
    return value if abs(value) <= FLOAT32_MAX or value != value else math.copysign(math.inf, value)


def tag_of(name: str) -> str:
    """TensorBoard tags for seqbench's curve quantities, grouped by what they measure."""
    if name == "train_loss":
        return "loss/train"
    if name.startswith("val_"):
        return f"{name[4:]}/validation"
    if name == "seconds":
        return "time/epoch_s"
    if name == "examples_per_s":
        return "throughput/train_examples_per_s"
    return name


def _timestamp(text: object) -> float:
    try:
        return datetime.fromisoformat(str(text)).timestamp()
    except ValueError:
        return 0.0


def _run_events(run: "pd.Series", curves: "pd.DataFrame | None", lengths: "pd.DataFrame | None",
                metric: str | None) -> bytes:
    started = _timestamp(run["started_at"])
    events = [event(started, 0, file_version=FILE_VERSION)]
    clock, last_epoch = started, 0
    if curves is not None:
        for epoch, rows in curves.groupby("epoch", sort=True):
            values = dict(zip(rows["name"], rows["value"]))
            clock += float(values.get("seconds") or 0.0)
            scalars = {tag_of(n): float(v) for n, v in values.items() if v == v and v is not None}
            events.append(event(clock, int(epoch), scalars))
            last_epoch = int(epoch)
    if metric and run["primary_value"] == run["primary_value"] and run["primary_value"] is not None:
        events.append(event(clock, last_epoch, {f"{metric}/test": float(run["primary_value"])}))
    if lengths is not None:
        for row in lengths.itertuples(index=False):
            if row.name == metric and row.value == row.value:
                events.append(event(clock, int(row.length), {f"{metric}/test_by_eval_length": float(row.value)}))
    return b"".join(record(e) for e in events)


def _run_folder(run: "pd.Series", varied: Iterable[str]) -> Path:
    parts = [safe_name(run["model"])]
    settings = [f"{c.split('.', 1)[1]}={run[c]}" for c in varied if run[c] == run[c] and run[c] is not None]
    if settings:
        parts.append(safe_name(",".join(settings)))
    parts.append(safe_name(f"seed={run['seed']}"))
    return Path(*parts)


def write_runs(sets: list["ResultSet"], directory: Path) -> int:
    """One event file per run that has curves or a test metric; returns how many."""
    from seqbench import results
    from seqbench.report.sets import sweep_of

    written = 0
    labels = distinct_safe_names(result_set.label for result_set in sets)
    for result_set in sets:
        sweep = sweep_of([result_set])
        varied = [c for c in [*sweep.axes, *sweep.other] if c in result_set.runs.columns]
        curves = dict(tuple(results.load_curves(result_set.store, result_set.suite, identity=False).groupby("id")))
        lengths = dict(tuple(result_set.length_metrics.groupby("id")))
        metric = result_set.primary_metric
        for _, run in result_set.runs.iterrows():
            if run["status"] != "ok":
                continue
            directory.mkdir(parents=True, exist_ok=True)
            folder = own_folders(directory, labels[result_set.label] / _run_folder(run, varied))
            # Named after the point, so a second export replaces the first instead of
            # doubling every curve.
            path = folder / f"events.out.tfevents.0.seqbench-{safe_name(run['point'])}"
            own_file(path).write_bytes(_run_events(run, curves.get(run["id"]), lengths.get(run["id"]), metric))
            written += 1
    return written
