"""DATA_CONTRACT.md section 5: per source, records_read = rejected + kept + duplicates."""
from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from spark.contract import COUNTS_SCHEMA, REASONS


class AccountingError(RuntimeError):
    """The counts of a source do not add up: a record was lost or duplicated on the way."""


class SourceCounts:
    """Section 5's counts of a job's sources, from two independent points of the job.

    ``observe_read`` counts the records where they come out of the readers (a Spark ``Observation``, filled by
    the first action that computes them, so it needs no pass of its own); ``rows`` counts what the checks and
    de-duplication made of them. A record lost or doubled between the two points makes the identity fail.
    """

    def __init__(self, source_names: Sequence[str]) -> None:
        self.names = list(source_names)
        self._read = Observation("records_read")

    def observe_read(self, records: DataFrame) -> DataFrame:
        """``records`` (every record read, with ``source_name``), counted per source as they pass."""
        return records.observe(self._read, *[
            F.count(F.when(F.col("source_name") == name, 1)).alias(f"read_{i}") for i, name in enumerate(self.names)])

    def rows(self, marked: DataFrame) -> list[dict]:
        """One ``COUNTS_SCHEMA`` dict per source, by source name (also for a source with no records).

        ``marked``: every record, with ``reason`` (NULL when valid) and ``is_duplicate`` (NULL for a reject, see
        ``spark.dedup.mark_duplicates``); cheap to read again (the job's cache). Valid once an action computed
        the records observed by ``observe_read``. ``rejected_by_reason`` lists every reason of section 3, with 0
        where no record failed it.
        """
        fates = marked.groupBy("source_name", "reason", "is_duplicate").count().collect()
        read = self._read.get
        rows = {name: {"source_name": name, "records_read": int(read[f"read_{i}"]), "rejected": 0, "kept": 0,
                       "duplicates": 0, "rejected_by_reason": dict.fromkeys(REASONS, 0)}
                for i, name in enumerate(self.names)}
        for fate in fates:
            row = rows[fate["source_name"]]
            if fate["reason"] is not None:
                row["rejected"] += fate["count"]
                row["rejected_by_reason"][fate["reason"]] += fate["count"]
            elif fate["is_duplicate"] is not None:  # a valid record left unmarked is no fate: the identity fails
                row["duplicates" if fate["is_duplicate"] else "kept"] += fate["count"]
        return [rows[name] for name in sorted(rows)]


def check_accounting(counts: Sequence[dict]) -> None:
    """Raise ``AccountingError`` unless every source satisfies section 5 and its reasons sum to ``rejected``."""
    for row in counts:
        if row["records_read"] != row["rejected"] + row["kept"] + row["duplicates"]:
            raise AccountingError(f"source {row['source_name']}: records_read {row['records_read']} != rejected "
                                  f"{row['rejected']} + kept {row['kept']} + duplicates {row['duplicates']}")
        if sum(row["rejected_by_reason"].values()) != row["rejected"]:
            raise AccountingError(f"source {row['source_name']}: rejected_by_reason does not sum to rejected")


def counts_frame(spark: SparkSession, counts: Sequence[dict]) -> DataFrame:
    """Collected counts back as a DataFrame with ``COUNTS_SCHEMA`` (one partition)."""
    return spark.createDataFrame([tuple(row[f.name] for f in COUNTS_SCHEMA.fields) for row in counts],
                                 COUNTS_SCHEMA).coalesce(1)
