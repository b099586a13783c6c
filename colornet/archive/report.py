"""The run report: one line per input (input, output, status or error, seconds, sizes, checkpoint sha256).

Written as it goes, so a crash leaves a valid report of everything finished before it: each record is one
``os.write`` of a whole line to a file opened with O_APPEND (a killed process leaves whole lines only; a line a
power cut tore is skipped by ``read_report``). JSON Lines (``.jsonl``) or CSV (``.csv``, header once). Re-running
with the same report appends, so the file is the history of every run; ``completed_outputs`` is what
``--skip-existing`` trusts: outputs whose latest record says "written" with the size the file still has.
"""

from __future__ import annotations

import csv
import io
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["REPORT_FIELDS", "ReportRecord", "RunReport", "completed_outputs", "job_record", "read_report"]

STATUSES = ("written", "failed", "skipped")


@dataclass(frozen=True)
class ReportRecord:
    """One input's outcome. ``status``: written, failed or skipped (an output that was already complete)."""

    input: str
    output: str | None
    status: str
    error: str | None = None
    seconds: float | None = None
    input_bytes: int | None = None
    output_bytes: int | None = None
    width: int | None = None
    height: int | None = None
    checkpoint_sha256: str | None = None
    run: str | None = None


REPORT_FIELDS = tuple(ReportRecord.__dataclass_fields__)


def job_record(
    source: str | os.PathLike,
    target: str | os.PathLike,
    error: str | None,
    seconds: float | None,
    written: tuple[tuple[int, int], int] | None,
    checkpoint_sha256: str | None,
) -> ReportRecord:
    """The record of one finished job (CLI and Ray alike). ``written``: ((width, height), file size) of the
    output, None when it failed."""
    try:
        input_bytes: int | None = os.stat(source).st_size
    except OSError:
        input_bytes = None
    (width, height), output_bytes = written if written is not None else ((None, None), None)
    return ReportRecord(
        input=str(source), output=str(target) if error is None else None, status="written" if error is None else "failed",
        error=error, seconds=None if seconds is None else round(seconds, 4), input_bytes=input_bytes,
        output_bytes=output_bytes, width=width, height=height, checkpoint_sha256=checkpoint_sha256,
    )


class RunReport:
    """Appends records to ``path`` (``.csv`` -> CSV, anything else -> JSON Lines) from any thread."""

    def __init__(self, path: str | os.PathLike, run: str | None = None) -> None:
        self.path = Path(path)
        self.csv = self.path.suffix.lower() == ".csv"
        self.run = run
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        if self.csv and os.fstat(self._fd).st_size == 0:
            self._write_line(_csv_line(REPORT_FIELDS))

    def _write_line(self, line: str) -> None:
        data = line.encode("utf-8")
        with self._lock:
            written = os.write(self._fd, data)
            if written != len(data):  # only on a full disk: say so rather than leave half a line
                raise OSError(f"{self.path}: the report line could not be written whole")

    def add(self, record: ReportRecord) -> None:
        if self.run and record.run is None:
            record = ReportRecord(**{**asdict(record), "run": self.run})
        if self.csv:
            row = asdict(record)
            self._write_line(_csv_line(tuple("" if row[k] is None else row[k] for k in REPORT_FIELDS)))
        else:
            self._write_line(json.dumps(asdict(record), ensure_ascii=False) + "\n")

    def close(self) -> None:
        if self._fd >= 0:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "RunReport":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _csv_line(values: tuple) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values)
    return buf.getvalue()


def read_report(path: str | os.PathLike) -> Iterator[ReportRecord]:
    """The records of a report, in order; a torn last line (power cut) and foreign lines are skipped."""
    path = Path(path)
    if not path.is_file():
        return
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        if path.suffix.lower() == ".csv":
            for row in csv.DictReader(fh):
                try:
                    yield _record({k: (None if v == "" else v) for k, v in row.items() if k in REPORT_FIELDS})
                except (TypeError, ValueError):
                    continue
        else:
            for line in fh:
                if not line.endswith("\n"):
                    break  # torn: the process died inside the write
                try:
                    yield _record(json.loads(line))
                except (ValueError, TypeError):
                    continue


def _record(row: dict) -> ReportRecord:
    if not isinstance(row, dict) or row.get("status") not in STATUSES or "input" not in row:
        raise ValueError("not a report record")
    values = {k: row.get(k) for k in REPORT_FIELDS}
    for key in ("input_bytes", "output_bytes", "width", "height"):
        values[key] = None if values[key] is None else int(values[key])
    values["seconds"] = None if values["seconds"] is None else float(values["seconds"])
    return ReportRecord(**values)


def completed_outputs(path: str | os.PathLike) -> set[Path]:
    """Outputs whose latest record is "written" (or "skipped" as complete) and whose file still has the size the
    record gives: the outputs a resumed run may trust without decoding them."""
    latest: dict[Path, ReportRecord] = {}
    for record in read_report(path):
        if record.output:
            latest[Path(record.output).resolve()] = record
    done = set()
    for output, record in latest.items():
        if record.status in ("written", "skipped") and record.output_bytes is not None:
            try:
                if output.stat().st_size == record.output_bytes:
                    done.add(output)
            except OSError:
                continue
    return done
