"""The transform floor: the least a Spark job does with a batch. Run by spark-submit with the [spark] settings.

``spark-submit ... bench/floors/spark_floor.py --csv A --csv B --json C --out DIR``: reads the three files
(CSV with header and quoted multi-line fields, the JSON array), unions them by column name, drops duplicates on
the natural key (winery, variety, description) and writes Parquet. No rules, no rejects, no accounting, no S3.
"""
from __future__ import annotations

import argparse
import json
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

    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    started = time.perf_counter()
    spark = SparkSession.builder.appName("winepipe-bench-spark-floor").getOrCreate()
    frames = []
    for path in args.csv:
        frames.append(spark.read.csv(path, header=True, multiLine=True, escape='"'))
    for path in args.json:
        frames.append(spark.read.json(path, multiLine=True))
    selected = [df.select([(F.col(c) if c in df.columns else F.lit(None)).cast("string").alias(c) for c in FIELDS])
                for df in frames]
    union = selected[0]
    for df in selected[1:]:
        union = union.unionByName(df)
    union.dropDuplicates(["winery", "variety", "description"]).write.mode("overwrite").parquet(args.out)
    rows = spark.read.parquet(args.out).count()
    spark.stop()
    print(json.dumps({"rows": rows, "seconds_in_job": round(time.perf_counter() - started, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
