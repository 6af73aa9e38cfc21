"""The rejects output: which record of which source failed which rule of section 3, with its text.

``raw`` is the record's own text when it could not be parsed (the CSV corrupt-record text, the JSON element's
text; invalid UTF-8 shown as U+FFFD); for a record that parsed but failed a later rule, the 13 contract fields
exactly as read (before trimming) as a JSON object, absent fields as ``null``.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark.contract import FIELDS


def with_record_text(records: DataFrame) -> DataFrame:
    """Records (as read, untrimmed) with ``record_text``; lazy, meant to be kept only for rejects."""
    as_read = F.to_json(F.struct(*FIELDS), {"ignoreNullFields": "false"})
    return records.withColumn("record_text", F.coalesce(F.col("unparsed_text"), as_read))


def keep_text_of_rejects(checked: DataFrame) -> DataFrame:
    """Drop ``record_text`` of valid records, so it is neither computed nor cached for them."""
    return checked.withColumn("record_text", F.when(F.col("reason").isNotNull(), F.col("record_text")))


def rejected_records(checked: DataFrame, batch_date: dt.date) -> DataFrame:
    """The rejects of a batch with ``contract.REJECTS_SCHEMA``."""
    return checked.where(F.col("reason").isNotNull()).select(
        "source_name", F.col("source_row").cast("long"), "reason", F.col("record_text").alias("raw"),
        F.lit(batch_date).alias("batch_date"))
