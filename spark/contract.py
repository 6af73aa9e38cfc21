"""The names, types and limits of DATA_CONTRACT.md sections 1-3, shared by the rule modules."""
from __future__ import annotations

from pyspark.sql.types import (
    DateType, DecimalType, IntegerType, LongType, MapType, StringType, StructField, StructType,
)

# The 13 fields of a review as the sources name them (the 130k header without its index column).
FIELDS: tuple[str, ...] = (
    "country", "description", "designation", "points", "price", "province", "region_1", "region_2",
    "taster_name", "taster_twitter_handle", "title", "variety", "winery",
)
# The fields every contract source has; the 150k file lacks the other three, which are then NULL.
REQUIRED_FIELDS: tuple[str, ...] = (
    "country", "description", "designation", "points", "price", "province", "region_1", "region_2",
    "variety", "winery",
)
OPTIONAL_FIELDS: tuple[str, ...] = tuple(f for f in FIELDS if f not in REQUIRED_FIELDS)

# Section 2: maximum lengths in characters (code points); description is unbounded text.
MAX_LENGTHS: dict[str, int] = {
    "country": 64, "designation": 255, "province": 128, "region_1": 128, "region_2": 128,
    "taster_name": 128, "taster_twitter_handle": 64, "title": 512, "variety": 128, "winery": 255,
}

POINTS_MIN, POINTS_MAX = 80, 100
PRICE_MAX = 100000
PRICE_TYPE = DecimalType(10, 2)

# Section 3, in the order the rules are checked.
REASONS: tuple[str, ...] = (
    "malformed_record", "missing_description", "missing_variety", "missing_winery",
    "bad_points", "bad_price", "field_too_long",
)

CURATED_SCHEMA = StructType([
    StructField("review_id", StringType(), False),
    StructField("country", StringType()),
    StructField("description", StringType(), False),
    StructField("designation", StringType()),
    StructField("points", IntegerType(), False),
    StructField("price", PRICE_TYPE),
    StructField("province", StringType()),
    StructField("region_1", StringType()),
    StructField("region_2", StringType()),
    StructField("taster_name", StringType()),
    StructField("taster_twitter_handle", StringType()),
    StructField("title", StringType()),
    StructField("variety", StringType(), False),
    StructField("winery", StringType(), False),
    StructField("vintage", IntegerType()),
    StructField("num_wines_of_variety", IntegerType(), False),
    StructField("source_name", StringType(), False),
    StructField("source_row", LongType(), False),
    StructField("batch_date", DateType(), False),
])

REJECTS_SCHEMA = StructType([
    StructField("source_name", StringType(), False),
    StructField("source_row", LongType(), False),
    StructField("reason", StringType(), False),
    StructField("raw", StringType()),
    StructField("batch_date", DateType(), False),
])

COUNTS_SCHEMA = StructType([
    StructField("source_name", StringType(), False),
    StructField("records_read", LongType(), False),
    StructField("rejected", LongType(), False),
    StructField("kept", LongType(), False),
    StructField("duplicates", LongType(), False),
    StructField("rejected_by_reason", MapType(StringType(), LongType(), False), False),
])
