"""DATA_CONTRACT.md section 2: the derived columns ``vintage`` and ``num_wines_of_variety``."""
from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

FIRST_VINTAGE = 1900
# Four ASCII digits that are a whole word: no letter, digit or underscore (Python's \w) on either side. The
# left side is a consumed character, not a lookbehind: Java's lookbehind sees only the low half of a
# supplementary character (U+1D400 "𝐀", CJK extension B), which is a letter all the same.
_YEAR_WORD = r"(?:^|[^\p{L}\p{N}_])([0-9]{4})(?![\p{L}\p{N}_])"


def vintage(title: Column, batch_date: dt.date) -> Column:
    """The first whole-word 4-digit number of ``title`` between 1900 and the batch's year inclusive, else NULL."""
    years = F.transform(F.regexp_extract_all(title, F.lit(_YEAR_WORD), 1), lambda y: y.cast("int"))
    plausible = F.filter(years, lambda y: y.between(FIRST_VINTAGE, batch_date.year))
    return F.get(plausible, 0)


def with_vintage(kept: DataFrame, batch_date: dt.date) -> DataFrame:
    """Kept records with column ``vintage``."""
    return kept.withColumn("vintage", vintage(F.col("title"), batch_date))


def with_num_wines_of_variety(kept: DataFrame) -> DataFrame:
    """Kept records with ``num_wines_of_variety``: how many kept records of the batch share their ``variety``.

    The counts (one row per variety, a few hundred) are joined back by broadcast rather than with a window over
    ``variety``: the kept records are not shuffled again, so they keep their partitioning and order.
    """
    per_variety = (kept.groupBy("variety").agg(F.count(F.lit(1)).cast("int").alias("num_wines_of_variety"))
                   .withColumnRenamed("variety", "_variety"))
    joined = kept.join(F.broadcast(per_variety), kept["variety"].eqNullSafe(per_variety["_variety"]))
    return joined.select(*kept.columns, "num_wines_of_variety")
