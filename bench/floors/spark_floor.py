"""The transform floor: the least a Spark job does with a batch. Run by spark-submit with the [spark] settings.

``spark-submit ... bench/floors/spark_floor.py --csv A --csv B --json C --out DIR``: reads the three files
(CSV with header and quoted multi-line fields, the JSON array), unions them by column name, drops duplicates on
the natural key (winery, variety, description) and writes Parquet. No rules, no rejects, no accounting, no S3.

Every record of every file must be read, or the floor does less than the job it is the floor of. Spark's JSON
reader cannot read the batch's JSON file: with ``multiLine`` the array is one document, and one element that is
not an object (a batch has a few, DATA_CONTRACT.md section 3) turns the whole file into a single corrupt record,
so every field of its 130k records would be NULL. The floor therefore reads the file as one text value, splits
the array into its elements (``from_json`` as ``array<string>`` keeps each element's text) and parses each
element with ``from_json``: Spark's own JSON parser, in the JVM. The records each file gave are observed during
the write (no extra pass) and printed as ``records``, so the harness can check them against the manifest.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

FIELDS = ("country", "description", "designation", "points", "price", "province", "region_1", "region_2",
          "taster_name", "taster_twitter_handle", "title", "variety", "winery")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="spark_floor.py")
    ap.add_argument("--csv", action="append", default=[])
    ap.add_argument("--json", action="append", default=[])
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)

    from pyspark.sql import Observation, SparkSession
    from pyspark.sql import functions as F

    started = time.perf_counter()
    spark = SparkSession.builder.appName("winepipe-bench-spark-floor").getOrCreate()
    frames = []
    for path in args.csv:
        frames.append((path, spark.read.csv(path, header=True, multiLine=True, escape='"')))
    element = "struct<" + ",".join(f"`{name}`:string" for name in FIELDS) + ">"
    for path in args.json:
        elements = spark.read.text(path, wholetext=True) \
            .select(F.explode(F.from_json("value", "array<string>")).alias("element"))
        frames.append((path, elements.select(F.from_json("element", element).alias("record")).select("record.*")))
    observed = {}
    selected = []
    for path, df in frames:
        observed[path] = Observation(os.path.basename(path))
        projected = df.select([(F.col(c) if c in df.columns else F.lit(None)).cast("string").alias(c)
                               for c in FIELDS])
        selected.append(projected.observe(observed[path], F.count(F.lit(1)).alias("records")))
    union = selected[0]
    for df in selected[1:]:
        union = union.unionByName(df)
    union.dropDuplicates(["winery", "variety", "description"]).write.mode("overwrite").parquet(args.out)
    records = {os.path.basename(path): obs.get["records"] for path, obs in observed.items()}
    rows = spark.read.parquet(args.out).count()
    spark.stop()
    print(json.dumps({"rows": rows, "records": records, "seconds_in_job": round(time.perf_counter() - started, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
