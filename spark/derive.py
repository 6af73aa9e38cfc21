"""DATA_CONTRACT.md section 2: the derived columns ``vintage`` and ``num_wines_of_variety``."""
from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
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
    """Kept records with ``num_wines_of_variety``: how many kept records of the batch share their ``variety``."""
    return kept.withColumn("num_wines_of_variety",
                           F.count(F.lit(1)).over(Window.partitionBy("variety")).cast("int"))
