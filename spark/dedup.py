"""DATA_CONTRACT.md section 4: one record per ``review_id``; the others are duplicates."""
from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F


def source_precedence(precedence: Mapping[str, int]) -> Column:
    """The configured precedence of each record's ``source_name`` (higher wins)."""
    mapping = F.create_map(*[F.lit(v) for name, prec in precedence.items() for v in (name, prec)])
    return mapping[F.col("source_name")]


def mark_duplicates(keyed: DataFrame, precedence: Mapping[str, int]) -> DataFrame:
    """Records with ``is_duplicate``: false for the one kept per ``review_id`` (the highest precedence source,
    then the lowest ``source_row``), true for every other. The kept record is taken whole.

    When ``keyed`` has a ``reason`` column (checked records, rejects included), only the valid records
    (``reason`` NULL) take part; a reject's ``is_duplicate`` is NULL.
    """
    order = [source_precedence(precedence).desc(), F.col("source_row").asc(), F.col("source_name").asc()]
    if "reason" not in keyed.columns:
        return keyed.withColumn("is_duplicate",
                                F.row_number().over(Window.partitionBy("review_id").orderBy(*order)) > 1)
    valid = F.col("reason").isNull()
    # The window's partitioning (review_id, valid) is satisfied by a hash partitioning on review_id alone.
    rank = F.row_number().over(Window.partitionBy(F.col("review_id"), valid).orderBy(*order))
    return keyed.withColumn("is_duplicate", F.when(valid, rank > 1))


def kept_records(marked: DataFrame) -> DataFrame:
    """The records that won de-duplication (never a reject: its ``is_duplicate`` is NULL)."""
    return marked.where(~F.col("is_duplicate")).drop("is_duplicate")


def without_duplicates(marked: DataFrame) -> DataFrame:
    """The kept records and the rejects of ``marked``: its duplicates dropped (and a valid record left unmarked,
    ``is_duplicate`` NULL, which the accounting then finds in no fate)."""
    return marked.where(F.col("reason").isNotNull() | ~F.col("is_duplicate"))
