"""``ColorizeBatch``: the ``map_batches`` callable class -- one model per Ray actor, the CLI's pipeline per batch."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

import numpy as np

from ..archive.carry import run_provenance
from ..atomic import TEMP_SUFFIX
from ..archive.report import REPORT_FIELDS, job_record
from ..batchrun import Job, Outcome, run_jobs, warm_up
from ..defaults import DEFAULT_STRENGTH, DEFAULT_WORKING_SIZE
from ..images import DEFAULT_MAX_MEGAPIXELS
from ..outputs import OutputOptions, write_image
from ..pipeline import Colorizer


class ColorizeBatch:
    """Colorize a batch ``{"input": paths, "output": paths}`` and return one report row per input (the columns of
    ``colornet.archive.report.ReportRecord``). Constructed once per actor: the model stays loaded between batches."""

    def __init__(
        self,
        *,
        weights: str | None = None,
        device: str = "auto",
        output: dict[str, Any] | None = None,
        strength: float = DEFAULT_STRENGTH,
        vividness: float | None = None,
        working_size: int | None = DEFAULT_WORKING_SIZE,
        max_megapixels: float | str | None = DEFAULT_MAX_MEGAPIXELS,
    ) -> None:
        self.colorizer = Colorizer.from_pretrained(
            weights, device=device, working_size=working_size, max_megapixels=max_megapixels
        )
        self.colorizer.model.resolve_vividness(vividness)  # a wrong vividness fails the actor at once, not every row
        # ``output``: OutputOptions' fields (format, bit depth, metadata, output profile ...); the provenance is ours
        provenance = run_provenance(self.colorizer, strength=strength, vividness=vividness)
        self.options = OutputOptions(**{**(output or {}), "provenance": provenance})
        self.settings = {"strength": strength, "vividness": vividness}
        self.max_megapixels = max_megapixels
        warm_up(self.colorizer)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        jobs = [Job(Path(str(src)), Path(str(dst))) for src, dst in zip(batch["input"], batch["output"])]
        for job in jobs:  # a retried batch: temp files a killed worker left mid-write for these very outputs
            for stale in job.target.parent.glob(f".{glob.escape(job.target.name)}.*{TEMP_SUFFIX}"):
                stale.unlink(missing_ok=True)
        written: dict[str, tuple[tuple[int, int], int]] = {}
        outcomes: dict[Job, Outcome] = {}

        def save(result, target: Path) -> None:
            written[str(target)] = (result.size, write_image(result, target, self.options))

        run_jobs(jobs, self.colorizer, save, lambda outcome: outcomes.__setitem__(outcome.job, outcome),
                 settings=self.settings, max_megapixels=self.max_megapixels, lean=self.options.keeps_uint8)
        sha = self.options.provenance.checkpoint_sha256
        rows = []
        for job in jobs:  # in the batch's order; a job the pipeline never reported (it stopped) counts as failed
            outcome = outcomes.get(job, Outcome(job, "not colorized: the worker's pipeline stopped early"))
            rows.append(job_record(job.source, job.target, outcome.error, outcome.seconds,
                                   written.get(str(job.target)), sha))
        return {name: np.array([getattr(r, name) for r in rows], dtype=object) for name in REPORT_FIELDS}
