"""spark.lookup: a small table of literals looked up without a nullable result."""
from __future__ import annotations

from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from spark.lookup import lookup


def test_lookup_gives_the_value_or_the_default_and_is_never_null(spark):
    df = spark.createDataFrame([("a",), ("b",), ("z",)], StructType([StructField("k", StringType(), False)]))
    looked_up = df.select("k", lookup(F.col("k"), {"a": 1, "b": 2}, 9).alias("v"))
    assert [(r.k, r.v) for r in looked_up.orderBy("k").collect()] == [("a", 1), ("b", 2), ("z", 9)]
    assert not looked_up.schema["v"].nullable
    assert [r.v for r in df.select(lookup(F.col("k"), {}, 7).alias("v")).collect()] == [7, 7, 7]
