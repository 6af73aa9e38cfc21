"""DATA_CONTRACT.md section 4: one record per ``review_id``; the others are duplicates."""
from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from spark.lookup import lookup


# De-duplication's order as one long, lowest first (``order_key``): the rank of the source's precedence among
# the distinct precedences (highest first), then ``source_row``, then the rank of the source's name (for sources
# of equal precedence); ``mark_duplicates`` adds a bit above them all for rejects.
_NAME_BITS = 10
_ROW_BITS = 40
# The largest source_row the order key holds (1.1 trillion records a file); the job checks it (run).
MAX_SOURCE_ROW = (1 << _ROW_BITS) - 1
_PRECEDENCE_BITS = 11
_REJECT = 1 << (_PRECEDENCE_BITS + _ROW_BITS + _NAME_BITS)
# A source missing from the precedence comes after all others.
_UNKNOWN_SOURCE = ((1 << _PRECEDENCE_BITS) - 1) << (_ROW_BITS + _NAME_BITS) | ((1 << _NAME_BITS) - 1)

ORDER_KEY = "dedup_order"


def _source_parts(precedence: Mapping[str, int]) -> dict[str, int]:
    names = sorted(precedence)
    levels = sorted(set(precedence.values()), reverse=True)
    # There are never more precedences than names, so this also bounds the precedences' ranks.
    if len(names) >= 1 << _NAME_BITS:
        raise ValueError(f"too many sources to de-duplicate: {len(names)}")
    return {name: levels.index(precedence[name]) << (_ROW_BITS + _NAME_BITS) | number
            for number, name in enumerate(names)}


def order_key(precedence: Mapping[str, int], source: str | None = None) -> Column:
    """Each record's place in de-duplication's order, as a non-negative long, lowest first: the highest
    precedence of ``precedence`` (by ``source_name``), then the lowest ``source_row``, then ``source_name``.

    ``source``: the records all come from this source (a reader's frame), so its part of the key is a literal.
    ``source_row`` must be at most ``MAX_SOURCE_ROW``. Sources missing from ``precedence`` share one rank, so
    two of their records with the same ``source_row`` tie (the job maps every source).
    One long instead of three sort keys: the window's sort compares one value, and its generated code is smaller
    (the check and de-duplication stage took 3.9-5.0 s with the three keys, 3.1-4.3 s with the one, the outputs
    unchanged: SCALE=1, 4 alternating runs).
    """
    parts = _source_parts(precedence)
    if source is not None:
        part = F.lit(parts.get(source, _UNKNOWN_SOURCE))
    else:
        part = lookup(F.col("source_name"), parts, _UNKNOWN_SOURCE)  # non-nullable
    return part + F.shiftleft(F.col("source_row").cast("long"), _NAME_BITS)


def mark_duplicates(keyed: DataFrame, precedence: Mapping[str, int]) -> DataFrame:
    """Records with ``is_duplicate``: false for the one kept per ``review_id`` (the highest precedence source,
    then the lowest ``source_row``, then the first ``source_name``), true for every other. The kept record is
    taken whole.

    When ``keyed`` has a ``reason`` column (checked records, rejects included), only the valid records
    (``reason`` NULL) take part; a reject's ``is_duplicate`` is NULL. When it has an ``ORDER_KEY`` column
    (``order_key``, added where the records are read), that column is used and dropped.
    """
    key = F.col(ORDER_KEY) if ORDER_KEY in keyed.columns else order_key(precedence)
    if "reason" not in keyed.columns:
        rank = F.row_number().over(Window.partitionBy("review_id").orderBy(key))
        return keyed.withColumn("is_duplicate", rank > 1).drop(ORDER_KEY)
    valid = F.col("reason").isNull()
    # Rejects sort after every valid record of their review_id, so the valid ones are ranked among themselves.
    # (One window over review_id, which the job's hash partitioning on review_id satisfies.)
    rank = F.row_number().over(Window.partitionBy("review_id").orderBy(
        key + F.when(valid, F.lit(0)).otherwise(F.lit(_REJECT))))
    return keyed.withColumn("is_duplicate", F.when(valid, rank > 1)).drop(ORDER_KEY)


def kept_records(marked: DataFrame) -> DataFrame:
    """The records that won de-duplication (never a reject: its ``is_duplicate`` is NULL)."""
    return marked.where(~F.col("is_duplicate")).drop("is_duplicate")


def without_duplicates(marked: DataFrame) -> DataFrame:
    """The kept records and the rejects of ``marked``: its duplicates dropped (and a valid record left unmarked,
    ``is_duplicate`` NULL, which the accounting then finds in no fate)."""
    return marked.where(F.col("reason").isNotNull() | ~F.col("is_duplicate"))
