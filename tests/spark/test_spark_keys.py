"""spark.keys: review_id = sha1(winery_n US variety_n US description_n), white space normalised."""
from __future__ import annotations

import hashlib

from pyspark.sql import functions as F

from spark.keys import review_id, with_review_id


def expected_id(winery: str, variety: str, description: str) -> str:
    return hashlib.sha1(f"{winery}\x1f{variety}\x1f{description}".encode()).hexdigest()


def test_review_id_is_lowercase_hex_sha1_of_the_natural_key(records):
    row = with_review_id(records({"winery": "Nicosia", "variety": "White Blend",
                                  "description": "Aromas include tropical fruit."})).first()
    assert row.review_id == expected_id("Nicosia", "White Blend", "Aromas include tropical fruit.")
    assert len(row.review_id) == 40 and row.review_id == row.review_id.lower()


def test_records_differing_only_in_white_space_share_their_id(records):
    variants = records(
        {"winery": "Quiévremont", "variety": "Red Blend", "description": "Ripe aromas  of dark\nberries."},
        {"winery": "\u00a0Quiévremont\u3000", "variety": "Red\u00a0\u00a0Blend",
         "description": " Ripe\taromas of\r\n dark \u2003berries.\u00a0"},
        {"winery": "Quiévremont", "variety": "Red Blend", "description": "Ripe aromas of dark berries."},
    )
    ids = {r.review_id for r in with_review_id(variants).collect()}
    assert ids == {expected_id("Quiévremont", "Red Blend", "Ripe aromas of dark berries.")}


def test_non_ascii_text_is_hashed_as_utf8(spark):
    row = spark.createDataFrame([("Bodega Carmen Rodríguez", "Gewürztraminer", "Kerin O’Keefe 2022–2030")],
                                "w string, v string, d string") \
        .select(review_id(F.col("w"), F.col("v"), F.col("d")).alias("id")).first()
    assert row.id == expected_id("Bodega Carmen Rodríguez", "Gewürztraminer", "Kerin O’Keefe 2022–2030")


def test_case_and_punctuation_make_different_ids(records):
    ids = [r.review_id for r in with_review_id(records({"winery": "Nicosia"}, {"winery": "nicosia"})).collect()]
    assert len(set(ids)) == 2
