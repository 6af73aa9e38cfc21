"""DATA_CONTRACT.md section 4: ``review_id``, the SHA-1 of a review's natural key."""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark.whitespace import collapse_whitespace

UNIT_SEPARATOR = "\x1f"


def review_id(winery: Column, variety: Column, description: Column) -> Column:
    """Lowercase hex SHA-1 over the UTF-8 of winery_n + US + variety_n + US + description_n.

    ``_n``: trimmed, every inner run of white space replaced by one ASCII space. U+001F is itself white space,
    so a normalised part never contains the separator.
    """
    natural_key = F.concat_ws(UNIT_SEPARATOR, *[collapse_whitespace(part) for part in (winery, variety, description)])
    # A string cast to binary is its UTF-8 bytes, without the charset lookup of encode().
    return F.sha1(natural_key.cast("binary"))


def review_id_of(records: DataFrame) -> Column:
    """The ``review_id`` of each record of ``records`` from its ``winery``, ``variety`` and ``description``.

    Trimmed or as read gives the same id: the normalisation trims white space itself (and turns a part that is
    only white space into an absent one, as trimming does).
    """
    return review_id(records["winery"], records["variety"], records["description"])


def with_review_id(valid: DataFrame) -> DataFrame:
    """Valid records with column ``review_id``."""
    return valid.withColumn("review_id", review_id_of(valid))
