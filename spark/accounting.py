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

    ``observe_read`` counts the records where they come out of the readers. What the checks and de-duplication
    made of them is counted after de-duplication: ``observe_duplicates`` counts the duplicates as they pass,
    ``count_survivors`` the kept records and the rejects, once the duplicates are dropped. The observations are
    filled by the action of ``count_survivors``, so the job needs no pass of its own for the counts. A record
    lost or doubled between the readers and the fates makes the identity fail.
    """

    def __init__(self, source_names: Sequence[str]) -> None:
        self.names = list(source_names)
        self._read = Observation("records_read")
        self._duplicates = Observation("duplicates")
        self._survivors: dict[tuple[str, str | None], int] = {}

    def observe_read(self, records: DataFrame) -> DataFrame:
        """``records`` (every record read, with ``source_name`` and ``source_row``), counted per source as they
        pass; also the largest and the sum of each source's record numbers (see ``check_record_numbers``)."""
        aggregates = []
        for i, name in enumerate(self.names):
            row = F.when(F.col("source_name") == name, F.col("source_row"))
            aggregates += [F.count(row).alias(f"read_{i}"), F.max(row).alias(f"last_row_{i}"),
                           F.sum(row).alias(f"row_sum_{i}")]
        return records.observe(self._read, *aggregates)

    def check_record_numbers(self, limit: int | None = None) -> None:
        """Raise ``AccountingError`` for a source whose ``source_row`` values are not 1 to its count of records,
        or go past ``limit``.

        The readers number records from their position in a partition (a file, or a part of a file cut at record
        boundaries, see ``spark.csv_parts``). A part that held another number of records than counted while
        cutting would shift the numbers of the parts after it: repeated numbers and gaps, which move the largest
        number or the sum away from those of 1..n (only errors that cancel out in both would pass). Valid after
        the action that fills ``rows``.
        """
        read = self._read.get
        for i, name in enumerate(self.names):
            count, last, total = read[f"read_{i}"], read[f"last_row_{i}"] or 0, read[f"row_sum_{i}"] or 0
            if last != count or total != count * (count + 1) // 2:
                raise AccountingError(f"source {name}: its {count} records are not numbered 1 to {count} "
                                      f"(largest source_row {last}, sum {total})")
            if limit is not None and last > limit:
                raise AccountingError(f"source {name}: {count} records, more than the {limit} a source can have")

    def observe_duplicates(self, marked: DataFrame) -> DataFrame:
        """``marked`` (every record, with ``is_duplicate``, see ``spark.dedup.mark_duplicates``), with its
        duplicates counted per source as they pass."""
        duplicate = F.col("is_duplicate")
        return marked.observe(self._duplicates, *[
            F.count(F.when((F.col("source_name") == name) & duplicate, 1)).alias(f"duplicates_{i}")
            for i, name in enumerate(self.names)])

    def count_survivors(self, survivors: DataFrame) -> None:
        """Count the records of ``survivors`` (``spark.dedup.without_duplicates``: the kept records and the
        rejects, with ``reason``, NULL when kept) per source and reason: an action, the job's pass over the
        records. A valid record left unmarked is no survivor and no duplicate, and a reason section 3 does not
        list is counted nowhere in ``rows``: either way the identity fails.

        It must be the first action on ``survivors``: an observation keeps what the first action computed, and a
        ``first()`` before it would leave partial counts (a false ``AccountingError``). The observations are
        updated by the group-by's map tasks; on a cluster, a map stage run again after a lost executor would
        count its records twice, and the identity fails rather than passing with wrong counts.
        """
        self._survivors = {(row["source_name"], row["reason"]): int(row["count"])
                           for row in survivors.groupBy("source_name", "reason").count().collect()}

    def rows(self) -> list[dict]:
        """One ``COUNTS_SCHEMA`` dict per source, by source name (also for a source with no records).

        Valid after ``count_survivors``, whose action also computed the records observed by ``observe_read``
        and ``observe_duplicates``. ``rejected_by_reason`` lists every reason of section 3, with 0 where no
        record failed it.
        """
        read, duplicates = self._read.get, self._duplicates.get
        rows = []
        for i, name in enumerate(self.names):
            by_reason = {reason: self._survivors.get((name, reason), 0) for reason in REASONS}
            rows.append({"source_name": name, "records_read": int(read[f"read_{i}"]),
                         "rejected": sum(by_reason.values()), "kept": self._survivors.get((name, None), 0),
                         "duplicates": int(duplicates[f"duplicates_{i}"]), "rejected_by_reason": by_reason})
        return sorted(rows, key=lambda row: row["source_name"])


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
