"""The curated output: section 2's columns, in its order and with its types."""
from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark.contract import CURATED_SCHEMA


def curated_records(derived: DataFrame, batch_date: dt.date) -> DataFrame:
    """Kept, derived records (``points`` and ``price`` typed by ``spark.rules.with_reject_reason``) as
    ``CURATED_SCHEMA`` columns."""
    typed = {
        "source_row": F.col("source_row").cast("long"),
        "batch_date": F.lit(batch_date),
    }
    return derived.select(*[
        typed.get(field.name, F.col(field.name)).cast(field.dataType).alias(field.name)
        for field in CURATED_SCHEMA.fields
    ])
