"""The transform floor: the least a Spark job does with a batch. Run by spark-submit with the [spark] settings.

``spark-submit ... bench/floors/spark_floor.py --csv A --csv B --json C --out DIR``: reads the three files
(CSV with header and quoted multi-line fields, the JSON array), unions them by column name, drops duplicates on
the natural key (winery, variety, description) and writes Parquet. No rules, no rejects, no accounting, no S3.

Every record of every file must be read, or the floor does less than the job it is the floor of. Spark's JSON
reader cannot read the batch's JSON file: with ``multiLine`` the array is one document, and one element that is
not an object (a batch has a few, DATA_CONTRACT.md section 3) turns the whole file into a single corrupt record,
so every field of its 130k records would be NULL. Reading the file as one text value and splitting it with
``from_json`` works, but holds the whole file in one row: at SCALE=10 (770 MB) it runs out of a 4 GiB heap. So the
floor streams the array's elements with the standard library's JSON decoder in one Python task (bounded memory,
no validation, no record numbers) and hands Spark 13 strings per element. The records each file gave are
observed during the write (no extra pass) and printed as ``records``, so the harness can check them against the
manifest.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from collections.abc import Iterator

FIELDS = ("country", "description", "designation", "points", "price", "province", "region_1", "region_2",
          "taster_name", "taster_twitter_handle", "title", "variety", "winery")


CHUNK = 1 << 20


def json_array_rows(path: str) -> Iterator[tuple]:
    """The elements of the JSON array in ``path`` as tuples of FIELDS (str or None), streamed; a non-object is
    all None."""
    decoder = json.JSONDecoder()
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        buf, pos, eof, opened = "", 0, False, False
        while True:
            while pos < len(buf) and (buf[pos] in " \t\r\n," or (buf[pos] == "[" and not opened)):
                opened = opened or buf[pos] == "["
                pos += 1
            if pos < len(buf) and buf[pos] == "]":
                return
            if pos == len(buf) and eof:
                raise ValueError(f"{path}: the JSON array does not end")
            try:
                value, end = decoder.raw_decode(buf, pos)
                complete = end < len(buf) or eof  # a number cut at the buffer's end would parse short
            except json.JSONDecodeError:
                if eof:
                    raise
                complete = False
            if not complete:
                chunk = fh.read(CHUNK)
                eof = not chunk
                buf, pos = buf[pos:] + chunk, 0
                continue
            pos = end
            if isinstance(value, dict):
                yield tuple(None if value.get(name) is None else str(value[name]) for name in FIELDS)
            else:
                yield (None,) * len(FIELDS)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="spark_floor.py")
    ap.add_argument("--csv", action="append", default=[])
    ap.add_argument("--json", action="append", default=[])
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)

    from pyspark.sql import DataFrame, Observation, SparkSession
    from pyspark.sql import functions as F

    started = time.perf_counter()
    spark = SparkSession.builder.appName("winepipe-bench-spark-floor").getOrCreate()
    frames = []
    for path in args.csv:
        frames.append((path, spark.read.csv(path, header=True, multiLine=True, escape='"')))
    schema = ", ".join(f"`{name}` string" for name in FIELDS)
    for path in args.json:
        rows = spark.sparkContext.parallelize([path], 1).flatMap(json_array_rows)
        frames.append((path, spark.createDataFrame(rows, schema, verifySchema=False)))
    observed = {path: Observation(os.path.basename(path)) for path, _ in frames}
    union = functools.reduce(DataFrame.unionByName, [
        df.select([(F.col(c) if c in df.columns else F.lit(None)).cast("string").alias(c) for c in FIELDS])
        .observe(observed[path], F.count(F.lit(1)).alias("records")) for path, df in frames])
    union.dropDuplicates(["winery", "variety", "description"]).write.mode("overwrite").parquet(args.out)
    records = {os.path.basename(path): obs.get["records"] for path, obs in observed.items()}
    rows = spark.read.parquet(args.out).count()
    spark.stop()
    print(json.dumps({"rows": rows, "records": records, "seconds_in_job": round(time.perf_counter() - started, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
