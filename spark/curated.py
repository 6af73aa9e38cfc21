"""The curated output: section 2's columns, in its order and with its types."""
from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark.contract import CURATED_SCHEMA
from spark.rules import points_value, price_value


def curated_records(derived: DataFrame, batch_date: dt.date) -> DataFrame:
    """Kept, derived records (valid, so ``points`` and ``price`` parse) as ``CURATED_SCHEMA`` columns."""
    typed = {
        "points": points_value(F.col("points")),
        "price": price_value(F.col("price")),
        "source_row": F.col("source_row").cast("long"),
        "batch_date": F.lit(batch_date),
    }
    return derived.select(*[
        typed.get(field.name, F.col(field.name)).cast(field.dataType).alias(field.name)
        for field in CURATED_SCHEMA.fields
    ])
