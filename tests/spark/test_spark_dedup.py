"""spark.dedup: highest precedence source wins, then the lowest source_row; the winner is taken whole."""
from __future__ import annotations

from spark.dedup import kept_records, mark_duplicates, without_duplicates
from spark.keys import with_review_id

PRECEDENCE = {"csv130": 3, "json130": 2, "csv150": 1}


def test_highest_precedence_wins_then_lowest_source_row(records):
    df = with_review_id(records(
        {"source_name": "csv150", "source_row": 1, "price": "1.0"},
        {"source_name": "csv130", "source_row": 9, "price": "9.0"},
        {"source_name": "json130", "source_row": 2, "price": "2.0"},
        {"source_name": "csv130", "source_row": 5, "price": "5.0", "country": None},
        {"source_name": "csv150", "source_row": 3, "winery": "Other", "price": "3.0"},
    ))
    marked = mark_duplicates(df, PRECEDENCE)
    flags = {(r.source_name, r.source_row): r.is_duplicate for r in marked.collect()}
    assert flags == {("csv150", 1): True, ("csv130", 9): True, ("json130", 2): True,
                     ("csv130", 5): False, ("csv150", 3): False}
    kept = {r.source_row: r for r in kept_records(marked).collect()}
    assert sorted(kept) == [3, 5]
    # Taken whole: the winner's NULL country is not filled from a loser.
    assert kept[5].country is None and kept[5].price == "5.0" and kept[5].source_name == "csv130"


def test_lowest_source_row_wins_within_one_source(records):
    df = with_review_id(records({"source_row": 7, "price": "7.0"}, {"source_row": 2, "price": "2.0"},
                                {"source_row": 4, "price": "4.0"}))
    kept = kept_records(mark_duplicates(df, {"src": 1})).collect()
    assert [(r.source_row, r.price) for r in kept] == [(2, "2.0")]


def test_rejects_take_no_part_in_de_duplication(records):
    from pyspark.sql import functions as F

    df = with_review_id(records(
        {"source_name": "csv130", "source_row": 1, "price": "1.0"},  # rejected below, same natural key
        {"source_name": "json130", "source_row": 2, "price": "2.0"},
        {"source_name": "csv150", "source_row": 3, "price": "3.0"},
    )).withColumn("reason", F.when(F.col("source_row") == 1, F.lit("bad_points")))
    marked = mark_duplicates(df, PRECEDENCE)
    flags = {(r.source_name, r.source_row): r.is_duplicate for r in marked.collect()}
    assert flags == {("csv130", 1): None, ("json130", 2): False, ("csv150", 3): True}
    assert [r.source_row for r in kept_records(marked).collect()] == [2]


def test_without_duplicates_keeps_the_kept_records_and_the_rejects(records):
    from pyspark.sql import functions as F

    df = with_review_id(records(
        {"source_name": "csv130", "source_row": 1, "price": "1.0"},  # rejected below, same natural key
        {"source_name": "json130", "source_row": 2, "price": "2.0"},  # kept
        {"source_name": "csv150", "source_row": 3, "price": "3.0"},  # duplicate
        {"source_name": "csv150", "source_row": 4, "winery": "Other"},  # kept, then left unmarked below
    )).withColumn("reason", F.when(F.col("source_row") == 1, F.lit("bad_points")))
    marked = mark_duplicates(df, PRECEDENCE)
    assert sorted(r.source_row for r in without_duplicates(marked).collect()) == [1, 2, 4]
    # A valid record without is_duplicate (a bug in de-duplication) is no survivor: the accounting misses it.
    unmarked = marked.withColumn("is_duplicate", F.when(F.col("source_row") != 4, F.col("is_duplicate")))
    assert sorted(r.source_row for r in without_duplicates(unmarked).collect()) == [1, 2]


def test_sources_of_equal_precedence_lowest_source_row_then_first_name(records):
    df = with_review_id(records(
        {"source_name": "y", "source_row": 3, "price": "3.0"},
        {"source_name": "x", "source_row": 5, "price": "5.0"},
        {"source_name": "low", "source_row": 1, "price": "1.0"},
        {"source_name": "y", "source_row": 7, "winery": "Other", "price": "7.0"},
        {"source_name": "x", "source_row": 7, "winery": "Other", "price": "7.5"},
    ))
    kept = kept_records(mark_duplicates(df, {"x": 2, "y": 2, "low": 1})).collect()
    assert sorted((r.source_name, r.source_row, r.price) for r in kept) == [("x", 7, "7.5"), ("y", 3, "3.0")]


def test_order_key_sorts_precedence_then_source_row_then_name(spark):
    from pyspark.sql import functions as F

    from spark.dedup import order_key

    rows = [("low", 1), ("x", 9), ("y", 2), ("x", 2), ("top", 10 ** 12), ("unknown", 0)]
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    # As the readers give them: source_name and source_row are never NULL.
    df = spark.createDataFrame(rows, StructType([StructField("source_name", StringType(), False),
                                                 StructField("source_row", LongType(), False)]))
    ordered = df.orderBy(order_key({"x": 2, "y": 2, "low": -5, "top": 7})).collect()
    assert [(r.source_name, r.source_row) for r in ordered] == [
        ("top", 10 ** 12), ("x", 2), ("y", 2), ("x", 9), ("low", 1), ("unknown", 0)]
    assert not df.select(order_key({"x": 1}).alias("k")).schema["k"].nullable
    # The key of a reader's frame, whose source is known, is the same number.
    precedence = {"x": 2, "y": 2, "low": -5, "top": 7}
    for name in ("x", "y", "low", "top", "unknown"):
        mine = df.where(F.col("source_name") == name)
        assert (mine.select(order_key(precedence, name)).collect() == mine.select(order_key(precedence)).collect()
                != [])


def test_order_key_keeps_source_row_above_the_name_and_within_its_bits(spark, records):
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    from spark.dedup import _REJECT, MAX_SOURCE_ROW, order_key

    # Equal precedence: a lower source_row beats an earlier name.
    df = with_review_id(records({"source_name": "a", "source_row": 3}, {"source_name": "y", "source_row": 2}))
    kept = kept_records(mark_duplicates(df, {"a": 1, "x": 1, "y": 1})).collect()
    assert [(r.source_name, r.source_row) for r in kept] == [("y", 2)]
    # The largest row of the first source still beats row 1 of the next.
    df = with_review_id(records({"source_name": "top", "source_row": MAX_SOURCE_ROW},
                                {"source_name": "next", "source_row": 1}))
    kept = kept_records(mark_duplicates(df, {"top": 2, "next": 1})).collect()
    assert [(r.source_name, r.source_row) for r in kept] == [("top", MAX_SOURCE_ROW)]
    # The largest key there is, a reject of an unknown source at the largest row, is still a positive long.
    rows = spark.createDataFrame([("unknown", MAX_SOURCE_ROW)], StructType([
        StructField("source_name", StringType(), False), StructField("source_row", LongType(), False)]))
    largest = rows.select(order_key({"x": 1}) + F.lit(_REJECT)).first()[0]
    assert 0 < largest < 1 << 63 and largest > _REJECT


def test_mark_duplicates_follows_and_drops_a_precomputed_order_key(records):
    from pyspark.sql import functions as F

    from spark.dedup import ORDER_KEY

    df = with_review_id(records({"source_name": "csv130", "source_row": 1}, {"source_name": "csv150", "source_row": 2}))
    # A key that puts the lower precedence first: the column, not the precedence, decides.
    marked = mark_duplicates(df.withColumn(ORDER_KEY, -F.col("source_row")), PRECEDENCE)
    assert ORDER_KEY not in marked.columns
    assert [(r.source_name, r.source_row) for r in kept_records(marked).collect()] == [("csv150", 2)]
