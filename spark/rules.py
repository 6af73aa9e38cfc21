"""DATA_CONTRACT.md section 3: trimming the fields and the reason a record is rejected, in the contract's order."""
from __future__ import annotations

import operator
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark.contract import FIELDS, MAX_LENGTHS, POINTS_MAX, POINTS_MIN, PRICE_MAX, PRICE_TYPE
from spark.whitespace import trim_whitespace

# "87", "+87", "87.0" are integers; "87.5", "eighty", "8.7e1" are not.
_INTEGER = r"\A[+-]?[0-9]+(\.0+)?\z"
_NUMBER = r"\A[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\z"


def trim_fields(records: DataFrame) -> DataFrame:
    """Every one of the 13 fields trimmed of white space (``spark.whitespace``); empty after trimming is NULL."""
    return records.withColumns({name: trim_whitespace(F.col(name)) for name in FIELDS})


def points_value(points: Column) -> Column:
    """``points`` as an int when it is written as an integer (``87``, ``87.0``); NULL otherwise."""
    return F.when(points.rlike(_INTEGER), F.regexp_extract(points, r"[+-]?[0-9]+", 0).try_cast("int"))


def price_value(price: Column) -> Column:
    """``price`` as decimal(10,2) (rounded half up to cents) when it is written as a number; NULL otherwise."""
    return F.when(price.rlike(_NUMBER) & price_in_range(price), price.try_cast(PRICE_TYPE))


def price_in_range(price: Column) -> Column:
    """Whether a numeric ``price`` is > 0 and <= 100000, also once rounded to cents (0.004 is not a price)."""
    exact = price.try_cast("decimal(38,10)")
    return (exact > 0) & (exact <= PRICE_MAX) & (price.try_cast(PRICE_TYPE) > 0)


def reject_reason() -> Column:
    """The first rule of section 3 that a trimmed record (``RECORD_COLUMNS``) fails, or NULL when it is valid."""
    col = F.col
    points, price = col("points"), col("price")
    # Lengths in characters (code points), like MySQL's VARCHAR(n) in utf8mb4. Counting characters walks the
    # string; a value of at most ``limit`` bytes has at most ``limit`` characters, so only longer ones are counted.
    any_too_long = reduce(operator.or_, [(F.octet_length(col(name)) > limit) & (F.length(col(name)) > limit)
                                         for name, limit in MAX_LENGTHS.items()])
    return (
        F.when(col("malformed"), "malformed_record")
        .when(col("description").isNull(), "missing_description")
        .when(col("variety").isNull(), "missing_variety")
        .when(col("winery").isNull(), "missing_winery")
        .when(points.isNull() | ~F.coalesce(points_value(points).between(POINTS_MIN, POINTS_MAX), F.lit(False)),
              "bad_points")
        .when(price.isNotNull() & price_value(price).isNull(), "bad_price")
        .when(F.coalesce(any_too_long, F.lit(False)), "field_too_long")
    )


def with_reject_reason(trimmed: DataFrame) -> DataFrame:
    """``trimmed`` (fields already trimmed) with column ``reason``: the failed rule, NULL when valid."""
    return trimmed.withColumn("reason", reject_reason())
