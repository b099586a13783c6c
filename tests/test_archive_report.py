"""The run report: one whole line per input, valid after a crash, and what --skip-existing may trust."""

import json
import os

from colornet.archive.report import ReportRecord, RunReport, completed_outputs, read_report


def test_jsonl_and_csv_round_trip(tmp_path):
    for name in ("run.jsonl", "run.csv"):
        path = tmp_path / name
        with RunReport(path, run="r1") as report:
            report.add(ReportRecord("a.jpg", "out/a.png", "written", seconds=0.5, input_bytes=10, output_bytes=20,
                                    width=3, height=4, checkpoint_sha256="f" * 64))
            report.add(ReportRecord("b.jpg", None, "failed", error='broken, "quoted"\nfile'))
        with RunReport(path, run="r2") as report:  # a second run appends
            report.add(ReportRecord("c.jpg", "out/c.png", "skipped", output_bytes=5))
        records = list(read_report(path))
        assert [r.input for r in records] == ["a.jpg", "b.jpg", "c.jpg"]
        assert records[0].width == 3 and records[0].seconds == 0.5 and records[0].run == "r1"
        assert records[1].error == 'broken, "quoted"\nfile' and records[1].output is None
        assert records[2].run == "r2"
        if name.endswith(".csv"):
            assert path.read_text().count("input,output,status") == 1  # one header


def test_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / "run.jsonl"
    with RunReport(path) as report:
        report.add(ReportRecord("a.jpg", "a.png", "written", output_bytes=1))
    with open(path, "a") as fh:
        fh.write('{"input": "b.jpg", "output": "b.png", "stat')  # the process died inside a write
    assert [r.input for r in read_report(path)] == ["a.jpg"]
    for line in path.read_text().splitlines()[:-1]:
        json.loads(line)


def test_completed_outputs_checks_the_size_on_disk(tmp_path):
    good, changed, failed = (tmp_path / n for n in ("good.png", "changed.png", "failed.png"))
    good.write_bytes(b"x" * 10)
    changed.write_bytes(b"x" * 4)  # truncated after the report said 10 bytes
    failed.write_bytes(b"x" * 10)
    path = tmp_path / "run.jsonl"
    with RunReport(path) as report:
        report.add(ReportRecord("g", str(good), "written", output_bytes=10))
        report.add(ReportRecord("c", str(changed), "written", output_bytes=10))
        report.add(ReportRecord("f", str(failed), "written", output_bytes=10))
        report.add(ReportRecord("f", str(failed), "failed", error="later run failed"))
    assert completed_outputs(path) == {good.resolve()}
    assert completed_outputs(tmp_path / "missing.jsonl") == set()


def test_lines_are_appended_whole_from_threads(tmp_path):
    import threading

    path = tmp_path / "run.jsonl"
    report = RunReport(path)

    def add(n: int) -> None:
        for i in range(200):
            report.add(ReportRecord(f"{n}-{i}.jpg" + "x" * 300, None, "failed", error="e" * 200))

    threads = [threading.Thread(target=add, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report.close()
    assert len(list(read_report(path))) == 800
    assert os.path.getsize(path) == sum(len(line) for line in open(path, "rb"))
