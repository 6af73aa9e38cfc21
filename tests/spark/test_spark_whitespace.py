"""spark.whitespace: the isspace() class and the trim/collapse Column helpers."""
from __future__ import annotations

import sys

from pyspark.sql import functions as F

from spark.whitespace import WHITESPACE_CHARS, collapse_whitespace, trim_whitespace, trimmed_length


def test_class_is_exactly_python_isspace():
    expected = {chr(cp) for cp in range(sys.maxunicode + 1) if chr(cp).isspace()}
    assert set(WHITESPACE_CHARS) == expected
    for ch in "\u00a0\u3000\u2000\u200a\x1c\x1d\x1e\x1f\x85\u2028\u2029\u1680\u202f\u205f \t\n\r\x0b\x0c":
        assert ch in WHITESPACE_CHARS
    for ch in "\u200b\ufeff\u180ex_":  # zero-width space, BOM, Mongolian vowel separator are not white space
        assert ch not in WHITESPACE_CHARS


CASES = [
    ("@paulgwine\u00a0", "@paulgwine", "@paulgwine"),
    ("\u3000Nicosia 2013 Vulkà Bianco  (Etna)\u3000", "Nicosia 2013 Vulkà Bianco  (Etna)",
     "Nicosia 2013 Vulkà Bianco (Etna)"),
    ("Anne Krebiehl\u00a0MW", "Anne Krebiehl\u00a0MW", "Anne Krebiehl MW"),
    (" \t\r\n\x1f\x85\u2003multi\r\n\r\nline \u2028", "multi\r\n\r\nline", "multi line"),
    ("\u00a0\u3000 \t", None, None),
    ("", None, None),
    (None, None, None),
    ("Gewürztraminer", "Gewürztraminer", "Gewürztraminer"),
]


def test_trim_and_collapse(spark):
    df = spark.createDataFrame([(i, t) for i, (t, _, _) in enumerate(CASES)], "i int, t string")
    rows = (df.select("i", trim_whitespace(F.col("t")).alias("trimmed"),
                      collapse_whitespace(F.col("t")).alias("collapsed")).orderBy("i").collect())
    assert [(r.trimmed, r.collapsed) for r in rows] == [(t, c) for _, t, c in CASES]


def test_trimmed_length_is_the_length_of_the_trimmed_value_in_characters(spark):
    df = spark.createDataFrame([(i, t) for i, (t, _, _) in enumerate(CASES)], "i int, t string")
    rows = df.select("i", trimmed_length(F.col("t")).alias("n")).orderBy("i").collect()
    assert [r.n for r in rows] == [None if t is None else len(t.strip()) for t, _, _ in CASES]
    assert [r.n for r in rows][:5] == [10, 33, 16, 13, 0]


def test_every_white_space_character_is_trimmed_at_either_edge_and_kept_inside(spark):
    values = [f"{ch}a{ch}b{ch}" for ch in WHITESPACE_CHARS]
    df = spark.createDataFrame(list(enumerate(values)), "i int, t string")
    rows = df.select("i", trim_whitespace(F.col("t")).alias("trimmed")).orderBy("i").collect()
    assert [r.trimmed for r in rows] == [f"a{ch}b" for ch in WHITESPACE_CHARS]


def test_characters_sharing_an_edge_byte_with_white_space_are_not_trimmed(spark):
    # "€" starts with E2 like U+2000..U+205F; "à" (C3 A0) ends like U+00A0; "ぁ" (E3 81 81) ends like U+2001;
    # "𝐀" (F0 9D 90 80) ends like U+3000; "\u200b" (E2 80 8B) is not white space at all.
    decoys = ["€5 à", "\u200bx\u200b", "ぁ", "𝐀 𝐀", "\u00c2"]
    df = spark.createDataFrame(list(enumerate(decoys)), "i int, t string")
    rows = df.select("i", trim_whitespace(F.col("t")).alias("trimmed")).orderBy("i").collect()
    assert [r.trimmed for r in rows] == decoys
