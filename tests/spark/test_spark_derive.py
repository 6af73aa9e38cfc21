"""spark.derive: vintage and num_wines_of_variety."""
from __future__ import annotations

import datetime as dt

from pyspark.sql import functions as F

from spark.derive import vintage, with_num_wines_of_variety

BATCH = dt.date(2026, 11, 24)


VINTAGE_CASES = [
    ("Nicosia 2013 Vulkà Bianco  (Etna)", 2013),
    ("X 1899 2005", 2005),
    ("Future 2027 then 2019", 2019),          # a year after the batch year is skipped
    ("Batch year 2026", 2026),
    ("First 1900", 1900),
    ("12013 is no year", None),
    ("Cuvée 20133", None),
    ("2013Vulkà", None),
    ("Vulkà2013", None),
    ("_2013_", None),
    ("Blend 2012-2013 (Etna)", 2012),
    ("Vintage '98, bottled 2001.", 2001),
    ("(2010)", 2010),
    ("6 Años Reserva Premium", None),
    ("No year here", None),
    ("\U0001d4002015 Cuvée", None),         # a letter outside the BMP (two UTF-16 units) glued to the year
    ("\U000200002015", None),
    ("1999 2000 2001", 1999),
    ("2001\u00a02002", 2001),
    (None, None),
]


def test_vintage(spark):
    df = spark.createDataFrame([(i, t) for i, (t, _) in enumerate(VINTAGE_CASES)], "i int, title string")
    got = [r.v for r in df.select("i", vintage(F.col("title"), BATCH).alias("v")).orderBy("i").collect()]
    assert got == [v for _, v in VINTAGE_CASES]


def test_num_wines_of_variety_counts_kept_records_per_exact_variety(records):
    kept = records({"variety": "Pinot Noir"}, {"variety": "Pinot Noir"}, {"variety": "Riesling"},
                   {"variety": "Pinot Noir"}, {"variety": "pinot noir"})
    counts = {(r.source_row, r.variety): r.num_wines_of_variety for r in with_num_wines_of_variety(kept).collect()}
    assert counts == {(1, "Pinot Noir"): 3, (2, "Pinot Noir"): 3, (3, "Riesling"): 1, (4, "Pinot Noir"): 3,
                      (5, "pinot noir"): 1}
