"""What every winepipe task shares: the batch date parameter and where a batch's data lives."""
from __future__ import annotations

import datetime

import luigi

from tasks.config import wine


class BatchTask(luigi.Task):
    """A task of one daily batch. Outputs are derived from the parameters alone, so re-runs skip work."""

    date = luigi.DateParameter(default=datetime.date.today(), description="the batch (YYYY-MM-DD)")

    def s3_url(self, zone: str, file: str = "") -> str:
        """``s3://<bucket>/<zone>/<date>/<file>`` (a prefix ending in / when file is empty)."""
        return f"s3://{wine().bucket}/{zone}/{self.date:%Y-%m-%d}/{file}"
