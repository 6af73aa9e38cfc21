"""DATA_CONTRACT.md section 3: trimming the fields and the reason a record is rejected, in the contract's order."""
from __future__ import annotations

import operator
from collections.abc import Sequence
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark.contract import FIELDS, MAX_LENGTHS, POINTS_MAX, POINTS_MIN, PRICE_MAX, PRICE_TYPE
from spark.whitespace import trim_whitespace, trimmed_length

# "87", "+87", "87.0" are integers; "87.5", "eighty", "8.7e1" are not.
_INTEGER = r"\A[+-]?[0-9]+(\.0+)?\z"
_NUMBER = r"\A[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\z"
# Wide enough a scale that no price above 100000 rounds down to it (100000.00000000004 is not a price); the
# numbers of 8 or more integer digits it cannot hold are out of range anyway (a NULL fails the rule).
_EXACT = "decimal(38,30)"
# The parsed values the checks read (with_reject_reason).
_POINTS, _PRICE_IS_NUMBER, _PRICE_EXACT, _PRICE = "_points", "_price_is_number", "_price_exact", "_price"
# The fields whose trimmed values the rules read (missing, parsed); of the others, they read only the length.
RULE_FIELDS: tuple[str, ...] = ("description", "variety", "winery", "points", "price")
LENGTH_ONLY_FIELDS: tuple[str, ...] = tuple(name for name in FIELDS if name not in RULE_FIELDS)


def trim_fields(records: DataFrame, fields: Sequence[str] = FIELDS) -> DataFrame:
    """``records`` with each of ``fields`` (default: all 13) trimmed of white space (``spark.whitespace``); empty
    after trimming is NULL."""
    return records.withColumns({name: trim_whitespace(F.col(name)) for name in fields})


def trim_and_check(records: DataFrame, fields: Sequence[str] = FIELDS) -> DataFrame:
    """``records`` (as read) with ``fields`` trimmed (``trim_fields``; they must hold ``RULE_FIELDS``) and the
    column ``reason`` (``with_reject_reason``); the other fields stay as read."""
    return with_reject_reason(trim_fields(records, fields), trimmed=fields)


def points_value(points: Column) -> Column:
    """``points`` as an int when it is written as an integer (``87``, ``87.0``); NULL otherwise."""
    return F.when(points.rlike(_INTEGER), F.regexp_extract(points, r"[+-]?[0-9]+", 0).try_cast("int"))


def price_in_range(exact: Column, cents: Column) -> Column:
    """Whether a price is > 0 and <= 100000, also once rounded to cents (0.004 is not a price); SQL's three-valued
    logic, so NULL where a NULL value leaves it open. ``exact``: the price as ``_EXACT``; ``cents``: as
    decimal(10,2)."""
    return (exact > 0) & (exact <= PRICE_MAX) & (cents > 0)


def reject_reason(trimmed: Sequence[str] = FIELDS) -> Column:
    """The first rule of section 3 that a record fails, or NULL when it is valid.

    Reads the record's fields (``RECORD_COLUMNS``; those of ``trimmed`` trimmed, the others as read) and the
    parsed values ``with_reject_reason`` adds.
    """
    col = F.col
    points = col(_POINTS)
    # Lengths in characters (code points), like MySQL's VARCHAR(n) in utf8mb4. Counting characters walks the
    # string; a value of at most ``limit`` bytes has at most ``limit`` characters, also once trimmed, so only
    # longer ones are counted (trimming first a field not trimmed yet).
    # CASE WHEN rather than AND: less generated code (see test_generated_code_of_the_checks_stays_jit_compilable).
    any_too_long = reduce(operator.or_, [
        F.when(F.octet_length(col(name)) > limit,
               (F.length(col(name)) if name in trimmed else trimmed_length(col(name))) > limit)
        for name, limit in MAX_LENGTHS.items()])
    return (
        F.when(col("malformed"), "malformed_record")
        .when(col("description").isNull(), "missing_description")
        .when(col("variety").isNull(), "missing_variety")
        .when(col("winery").isNull(), "missing_winery")
        .when(~F.coalesce(points.between(POINTS_MIN, POINTS_MAX), F.lit(False)), "bad_points")
        .when(col("price").isNotNull() & ~F.coalesce(price_in_range(col(_PRICE_EXACT), col(_PRICE)), F.lit(False)),
              "bad_price")
        .when(F.coalesce(any_too_long, F.lit(False)), "field_too_long")
    )


def with_reject_reason(records: DataFrame, trimmed: Sequence[str] = FIELDS) -> DataFrame:
    """``records`` with column ``reason``: the failed rule, NULL when valid.

    ``trimmed``: the fields already trimmed (``trim_fields``); it must hold ``RULE_FIELDS``. The rules read only
    the length of the others, which they measure trimmed, and leave them as read.

    ``points`` and ``price`` come out typed as section 2 types them (int, decimal(10,2)): their values for a
    valid record, NULL where they do not parse. Each is parsed once, in a projection of its own that the checks
    and the curated output share (inlined into the checks, the parsing would run once per comparison).
    """
    untrimmed = [name for name in RULE_FIELDS if name not in trimmed]
    if untrimmed:
        raise ValueError(f"the rules read these fields trimmed, and they are not: {', '.join(untrimmed)}")
    price = F.col("price")
    number = records.withColumns({_POINTS: points_value(F.col("points")), _PRICE_IS_NUMBER: price.rlike(_NUMBER)})
    parsed = number.withColumns({_PRICE_EXACT: F.when(F.col(_PRICE_IS_NUMBER), price.try_cast(_EXACT)),
                                 _PRICE: F.when(F.col(_PRICE_IS_NUMBER), price.try_cast(PRICE_TYPE))})
    return (parsed.withColumn("reason", reject_reason(trimmed))
            .withColumns({"points": F.col(_POINTS), "price": F.col(_PRICE)})
            .drop(_POINTS, _PRICE_IS_NUMBER, _PRICE_EXACT, _PRICE))
