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
    """Valid records with ``is_duplicate``: false for the one kept per ``review_id`` (the highest precedence
    source, then the lowest ``source_row``), true for every other. The kept record is taken whole."""
    winner_first = Window.partitionBy("review_id").orderBy(source_precedence(precedence).desc(),
                                                           F.col("source_row").asc(), F.col("source_name").asc())
    return keyed.withColumn("is_duplicate", F.row_number().over(winner_first) > 1)


def kept_records(marked: DataFrame) -> DataFrame:
    """The records that won de-duplication."""
    return marked.where(~F.col("is_duplicate")).drop("is_duplicate")
