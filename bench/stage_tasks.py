"""Luigi wrapper tasks for timing one stage of the pipeline alone.

``luigi --module bench.stage_tasks BenchExtract --date D --workers 3``: the three ExtractWineFile tasks of a
batch, exactly as LoadWine schedules them (in parallel with --workers 3), and nothing downstream.
"""
from __future__ import annotations

import luigi

from tasks import ExtractWineFile
from tasks.base import BatchTask
from tasks.config import sources


class BenchExtract(BatchTask, luigi.WrapperTask):
    """Complete when every source file of the batch is in the S3 raw zone."""

    def requires(self) -> list[ExtractWineFile]:
        return [ExtractWineFile(date=self.date, source=src.name) for src in sources()]
