"""The driver: plan inputs and outputs as the CLI does, run ``ColorizeBatch`` over them on Ray Data, and write the
run report from the rows that come back (``python -m colornet.ray --help``)."""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..archive.report import REPORT_FIELDS, ReportRecord, RunReport, completed_outputs
from ..inputs import plan_inputs
from ..outputs import OutputOptions, is_complete, plan_outputs
from .worker import ColorizeBatch

__all__ = ["ColorizeBatch", "colorize_with_ray", "main"]


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ImportError('colornet.ray needs Ray Data: pip install "colornet[ray]" (or pip install "ray[data]")') \
            from None
    return ray


def colorize_with_ray(
    inputs: Sequence[str],
    output: str | os.PathLike,
    *,
    worker: type = ColorizeBatch,
    worker_kwargs: dict[str, Any] | None = None,
    output_options: OutputOptions | None = None,
    batch_size: int = 8,
    workers: int | None = None,
    cpus_per_worker: float = 1,
    gpus_per_worker: float = 0,
    skip_existing: bool = False,
    report: str | os.PathLike | None = None,
) -> list[ReportRecord]:
    """Colorize ``inputs`` (files, folders, globs) into ``output`` on the Ray cluster this process is connected to
    (``ray.init`` first; a local one is started if none is). Returns one record per input, also appended to
    ``report``. ``workers``: actors (default: as many as the cluster has CPUs / ``cpus_per_worker``, or GPUs)."""
    ray = _ray()
    options = output_options or OutputOptions()
    out_dir = Path(output)
    plan = plan_inputs(list(inputs), exclude=out_dir)
    outputs = plan_outputs(plan.jobs, out_dir, options)  # the CLI's names, and its refusals
    run = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    records: list[ReportRecord] = []
    sink = RunReport(report, run=run) if report else None
    try:
        for where, why in [*plan.problems, *((str(s), why) for s, why in outputs.refused)]:
            records.append(ReportRecord(where, None, "failed", error=why, run=run))
        trusted = completed_outputs(report) if report and skip_existing else set()
        rows = []
        for source, target in outputs.targets:
            if skip_existing and target.exists() and (target.resolve() in trusted or is_complete(target)):
                records.append(ReportRecord(str(source), str(target), "skipped",
                                            output_bytes=target.stat().st_size, run=run))
            else:
                rows.append({"input": str(source), "output": str(target)})
        for record in records:
            if sink is not None:
                sink.add(record)
        if rows:
            if not ray.is_initialized():
                ray.init()
            if workers is None:
                resources = ray.cluster_resources()
                workers = int(resources.get("GPU", 0) // gpus_per_worker) if gpus_per_worker else \
                    int(resources.get("CPU", 1) // cpus_per_worker)
            kwargs = dict(worker_kwargs or {})
            kwargs["output"] = {"format": options.format, "png_compression": options.png_compression,
                                "jpeg_quality": options.jpeg_quality, "bit_depth": options.bit_depth,
                                "metadata": options.metadata, "output_profile": options.output_profile}
            out_dir.mkdir(parents=True, exist_ok=True)
            dataset = ray.data.from_items(rows, override_num_blocks=max(1, -(-len(rows) // batch_size)))
            results = dataset.map_batches(
                worker, fn_constructor_kwargs=kwargs, batch_size=batch_size, concurrency=max(1, min(workers, len(rows))),
                num_cpus=cpus_per_worker, num_gpus=gpus_per_worker or None, batch_format="numpy",
            )
            for row in results.iter_rows():
                record = ReportRecord(**{k: _plain(row.get(k)) for k in REPORT_FIELDS if k != "run"}, run=run)
                records.append(record)
                if sink is not None:
                    sink.add(record)
    finally:
        if sink is not None:
            sink.close()
    return records


def _plain(value: Any) -> Any:
    """numpy scalars from Arrow -> Python values (None stays None)."""
    return value.item() if hasattr(value, "item") else value


def main(argv: Sequence[str] | None = None) -> int:
    from ..checks import check_max_megapixels, check_strength, check_working_size
    from ..cli import _megapixels, library_check
    from ..images import DEFAULT_MAX_MEGAPIXELS
    from ..outputs import BIT_DEPTHS, METADATA_MODES, OUTPUT_FORMATS, OUTPUT_PROFILES

    parser = argparse.ArgumentParser(prog="python -m colornet.ray", description=__doc__.split("\n")[0])
    parser.add_argument("inputs", nargs="+", help="image files, folders or globs (on a filesystem every node sees)")
    parser.add_argument("-o", "--output", required=True, help="output folder (on a filesystem every node sees)")
    parser.add_argument("--address", default=None, help="Ray cluster to join (auto = the one on this node); "
                                                          "default: start a local Ray")
    parser.add_argument("--workers", type=int, default=None, help="actors (default: fill the cluster)")
    parser.add_argument("--cpus-per-worker", type=float, default=1)
    parser.add_argument("--gpus-per-worker", type=float, default=0, help="1 on GPU nodes: one actor per GPU")
    parser.add_argument("--batch-size", type=int, default=8, help="inputs per Ray task (one retry unit)")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--strength", type=library_check(check_strength), default=1.0)
    parser.add_argument("--vividness", type=float, default=None)
    parser.add_argument("--working-size", type=library_check(check_working_size, int), default=512)
    parser.add_argument("--max-megapixels", type=library_check(check_max_megapixels, _megapixels),
                        default=DEFAULT_MAX_MEGAPIXELS, metavar="auto|MP")
    parser.add_argument("--format", choices=OUTPUT_FORMATS, default="png")
    parser.add_argument("--bit-depth", choices=BIT_DEPTHS, default="auto")
    parser.add_argument("--metadata", choices=METADATA_MODES, default="keep")
    parser.add_argument("--output-profile", choices=OUTPUT_PROFILES, default="srgb")
    parser.add_argument("--skip-existing", action="store_true")
    parser.add_argument("--report", default=None, metavar="RUN.jsonl")
    args = parser.parse_args(argv)
    ray = _ray()
    ray.init(address=args.address)
    records = colorize_with_ray(
        args.inputs, args.output,
        output_options=OutputOptions(args.format, bit_depth=args.bit_depth, metadata=args.metadata,
                                     output_profile=args.output_profile),
        worker_kwargs={"weights": args.weights, "device": args.device, "strength": args.strength,
                       "vividness": args.vividness, "working_size": args.working_size,
                       "max_megapixels": args.max_megapixels},
        batch_size=args.batch_size, workers=args.workers, cpus_per_worker=args.cpus_per_worker,
        gpus_per_worker=args.gpus_per_worker, skip_existing=args.skip_existing, report=args.report,
    )
    failed = [r for r in records if r.status == "failed"]
    for record in failed:
        print(f"failed {record.input}: {record.error}", file=sys.stderr)
    written = sum(r.status == "written" for r in records)
    print(f"{written} image(s) written to {args.output}, {len(records) - written - len(failed)} already there, "
          f"{len(failed)} failed")
    return 1 if failed else 0
