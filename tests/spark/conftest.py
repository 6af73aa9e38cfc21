"""Shared fixtures of the spark/ tests: one small local SparkSession for the whole run, record builders."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# A complete, valid record as a reader returns it (RECORD_COLUMNS); tests override what they exercise.
VALID_RECORD: dict = {
    "source_name": "src", "source_row": 1,
    "country": "Italy", "description": "Aromas include tropical fruit.", "designation": "Vulkà Bianco",
    "points": "87", "price": "15.0", "province": "Sicily & Sardinia", "region_1": "Etna", "region_2": None,
    "taster_name": "Kerin O’Keefe", "taster_twitter_handle": "@kerinokeefe",
    "title": "Nicosia 2013 Vulkà Bianco  (Etna)", "variety": "White Blend", "winery": "Nicosia",
    "unparsed_text": None, "malformed": False,
}


@pytest.fixture(scope="session")
def spark():
    # Python workers import the `spark` package (the JSON reader runs there): give them the project root.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH")) if p)
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("winepipe-spark-tests")
               .config("spark.sql.shuffle.partitions", "4")
               .config("spark.default.parallelism", "2")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.driver.memory", "1g")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def records(spark) -> Callable[..., object]:
    """``records(dict, dict, ...)``: a DataFrame of reader records, each a VALID_RECORD with overrides."""
    from spark.sources import RECORD_COLUMNS
    from pyspark.sql.types import BooleanType, LongType, StringType, StructField, StructType

    schema = StructType([
        StructField(name, LongType() if name == "source_row" else BooleanType() if name == "malformed"
                    else StringType()) for name in RECORD_COLUMNS])

    def build(*overrides: dict):
        rows = []
        for i, override in enumerate(overrides, start=1):
            row = {**VALID_RECORD, "source_row": i, **override}
            rows.append(tuple(row[name] for name in RECORD_COLUMNS))
        return spark.createDataFrame(rows, schema)

    return build


@pytest.fixture
def write_file(tmp_path) -> Callable[[str, bytes | str], str]:
    """``write_file(name, content)``: a file in tmp_path (str content as UTF-8), its path."""
    def write(name: str, content: bytes | str) -> str:
        path = tmp_path / name
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return str(path)

    return write
