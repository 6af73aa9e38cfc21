"""DATA_CONTRACT.md section 5: per source, records_read = rejected + kept + duplicates."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark.contract import COUNTS_SCHEMA, REASONS


class AccountingError(RuntimeError):
    """The counts of a source do not add up: a record was lost or duplicated on the way."""


def source_counts(marked: DataFrame, source_names: Sequence[str],
                  records_read: Mapping[str, int] | None = None) -> DataFrame:
    """One row per source (``COUNTS_SCHEMA``), also for a source with no records.

    ``marked``: every record, with ``reason`` (NULL when valid) and ``is_duplicate`` (NULL for a reject, see
    ``spark.dedup.mark_duplicates``). ``records_read``: the records each source yielded, counted where they were
    read (the job observes them before any shuffle), so that the identity checks that every record read got
    exactly one fate downstream; without it, the rows of ``marked`` are counted. ``rejected_by_reason`` lists
    every reason of section 3, with 0 where no record failed it.
    """
    spark = marked.sparkSession
    counted = marked.groupBy("source_name").agg(
        F.count(F.lit(1)).alias("records_read"),
        F.count("reason").alias("rejected"),
        *[F.count(F.when(F.col("reason") == reason, 1)).alias(f"reason_{reason}") for reason in REASONS],
        F.count(F.when(~F.col("is_duplicate"), 1)).alias("kept"),
        F.count(F.when(F.col("is_duplicate"), 1)).alias("duplicates"))
    if records_read is not None:
        counted = counted.drop("records_read")
    names = spark.createDataFrame(
        [(name, records_read.get(name, 0) if records_read is not None else None) for name in source_names],
        "source_name string, observed_read long")
    joined = names.join(counted, "source_name", "left")
    if records_read is not None:
        joined = joined.withColumnRenamed("observed_read", "records_read")
    else:
        joined = joined.drop("observed_read")

    def zero(name: str):
        return F.coalesce(F.col(name), F.lit(0)).cast("long")

    return joined.select(
        "source_name", zero("records_read").alias("records_read"), zero("rejected").alias("rejected"),
        zero("kept").alias("kept"), zero("duplicates").alias("duplicates"),
        F.create_map(*[c for reason in REASONS for c in (F.lit(reason), zero(f"reason_{reason}"))])
        .alias("rejected_by_reason"),
    ).orderBy("source_name")


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
