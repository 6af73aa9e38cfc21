"""The seed-style baseline: the design winepipe replaces, written as competently as its authors would.

``python -m bench.baselines.seed_style --date D --table wine_reviews_seed --work DIR`` runs three steps, each
as its own process, like the seed project's scripts:

1. download: the batch's files from the SFTP drop to local disk (paramiko);
2. ``spark-submit seed_style.py transform``: PySpark reads the three files, trims and validates them by the
   contract's rules, de-duplicates on the natural key (precedence, then record number), counts per variety,
   ``collect()``s every curated row to the driver and stores them as **one JSON string** in Redis
   (``<key_prefix>seed:<date>``); Redis refuses a value over its 512 MB ``proto-max-bulk-len``;
3. ``spark-submit --jars mariadb-java-client.jar seed_style.py load``: reads the JSON back, builds a DataFrame
   and writes it with Spark's JDBC writer (MariaDB Connector/J, batched inserts) into an empty table with
   wine_reviews' schema.

The spark-submit options are the project's ``[spark]`` settings (bench.space.spark_submit_command).
Malformed records, in Spark's idiom: the CSV reader's PERMISSIVE mode with a corrupt-record column (wrong
field counts), U+FFFD after decoding (invalid UTF-8); the JSON array is parsed in the driver (Spark's JSON
reader turns the whole file into one corrupt record as soon as one element is not an object).
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[2]))  # under spark-submit the project is not on sys.path by itself

from bench.baselines.common import (  # noqa: E402
    CURATED, FIELDS, INTEGER_RE, MAX_LENGTHS, NUMBER_RE, PRICE_MAX, WHITESPACE, create_table, download_batch, log,
)

REDIS_MAX_BULK = 512 * 2**20  # Redis's default proto-max-bulk-len
WS_CLASS = "[" + "".join(f"\\x{{{ord(c):04X}}}" for c in WHITESPACE) + "]"


def redis_key(date: str) -> str:
    from tasks.config import redis as redis_config

    return f"{redis_config().key_prefix}seed:{date}"


def redis_client():
    import redis as redis_lib
    from tasks.config import redis as redis_config

    cfg = redis_config()
    return redis_lib.Redis(host=cfg.host, port=cfg.port, db=cfg.db, password=cfg.password or None,
                           socket_timeout=600)


# -- step 2: transform -> Redis ---------------------------------------------------------------------------
def transform(date: dt.date, files: list[dict]) -> None:
    from pyspark.sql import SparkSession, Window
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    spark = SparkSession.builder.appName("seed-style-transform").getOrCreate()
    frames = []
    for spec in files:
        if spec["format"] == "csv":
            with open(spec["path"], encoding="utf-8-sig", errors="replace", newline="") as fh:
                header = next(csv.reader([fh.readline()]))
            schema = StructType([StructField(f"_col{i}" if not c.strip() else c.strip(), StringType())
                                 for i, c in enumerate(header)] + [StructField("_corrupt_record", StringType())])
            df = (spark.read.schema(schema)
                  .csv(spec["path"], header=True, multiLine=True, escape='"', mode="PERMISSIVE",
                       columnNameOfCorruptRecord="_corrupt_record", enforceSchema=True)
                  .withColumn("source_row", F.monotonically_increasing_id() + 1))
            present = [c for c in FIELDS if c in df.columns]
            bad_utf8 = F.lit(False)
            for c in present:
                bad_utf8 = bad_utf8 | F.coalesce(F.col(c).contains("\ufffd"), F.lit(False))
            df = df.select(*[(F.col(c) if c in present else F.lit(None).cast("string")).alias(c) for c in FIELDS],
                           (F.col("_corrupt_record").isNotNull() | bad_utf8).alias("malformed"), "source_row")
        else:
            with open(spec["path"], encoding="utf-8-sig", errors="replace") as fh:
                elements = json.load(fh, parse_float=str, parse_int=str)
            rows = []
            for i, el in enumerate(elements, start=1):
                ok = isinstance(el, dict) and not any(isinstance(v, (dict, list)) for v in el.values())
                vals = [None if not ok or el.get(c) is None else str(el[c]).lower()
                        if isinstance(el[c], bool) else str(el[c]) for c in FIELDS]
                ok = ok and not any(v is not None and "\ufffd" in v for v in vals)
                rows.append((*vals, not ok, i))
            schema = "country string, description string, designation string, points string, price string, " \
                     "province string, region_1 string, region_2 string, taster_name string, " \
                     "taster_twitter_handle string, title string, variety string, winery string, " \
                     "malformed boolean, source_row long"
            df = spark.createDataFrame(rows, schema)
        frames.append(df.withColumn("source_name", F.lit(spec["name"]))
                      .withColumn("precedence", F.lit(spec["precedence"])))
    records = frames[0]
    for df in frames[1:]:
        records = records.unionByName(df)

    edges = f"\\A{WS_CLASS}+|{WS_CLASS}+\\z"
    for c in FIELDS:
        trimmed = F.regexp_replace(F.col(c), edges, "")
        records = records.withColumn(c, F.when(trimmed != "", trimmed))
    price_exact = F.col("price").try_cast("decimal(38,10)")
    valid = (~F.col("malformed") & F.col("description").isNotNull() & F.col("variety").isNotNull()
             & F.col("winery").isNotNull()
             & F.coalesce(F.col("points").rlike(f"\\A{INTEGER_RE}\\z")
                          & F.regexp_extract("points", "[+-]?[0-9]+", 0).try_cast("int").between(80, 100),
                          F.lit(False))
             & (F.col("price").isNull()
                | F.coalesce(F.col("price").rlike(f"\\A{NUMBER_RE}\\z") & (price_exact > 0)
                             & (price_exact <= PRICE_MAX) & (F.col("price").try_cast("decimal(10,2)") > 0),
                             F.lit(False))))
    for c, limit in MAX_LENGTHS.items():
        valid = valid & F.coalesce(F.length(c) <= limit, F.lit(True))
    kept = records.where(valid)

    def norm(c):
        return F.regexp_replace(F.col(c), f"{WS_CLASS}+", " ")

    kept = kept.withColumn("review_id", F.sha1(F.encode(F.concat_ws("\x1f", norm("winery"), norm("variety"),
                                                                      norm("description")), "UTF-8")))
    first = Window.partitionBy("review_id").orderBy(F.col("precedence").desc(), F.col("source_row").asc())
    kept = kept.withColumn("_rank", F.row_number().over(first)).where("_rank = 1")
    years = F.filter(F.transform(F.regexp_extract_all("title", F.lit(r"(?<![\p{L}\p{N}_])([0-9]{4})(?![\p{L}\p{N}_])"),
                                                       1), lambda y: y.cast("int")),
                     lambda y: y.between(1900, date.year))
    curated = (kept
               .withColumn("points", F.regexp_extract("points", "[+-]?[0-9]+", 0).cast("int"))
               .withColumn("price", F.col("price").cast("decimal(10,2)"))
               .withColumn("vintage", F.get(years, 0))
               .withColumn("num_wines_of_variety", F.count(F.lit(1)).over(Window.partitionBy("variety")))
               .withColumn("batch_date", F.lit(date.isoformat()))
               .select(*CURATED))

    rows = curated.collect()  # the seed design: every row to the driver
    payload = json.dumps([[None if v is None else v if isinstance(v, (int, str)) else str(v) for v in row]
                          for row in rows])
    log(f"seed-style: {len(rows)} rows, JSON payload {len(payload) / 1e6:.1f} M characters -> Redis")
    spark.stop()
    size = len(payload.encode("utf-8"))
    client = redis_client()
    try:
        client.set(redis_key(date.isoformat()), payload)
    except Exception as exc:
        if size > REDIS_MAX_BULK:  # the server drops the connection; say why
            raise SystemExit(f"Redis refused the value: {size / 2**20:.0f} MiB is over proto-max-bulk-len "
                             f"({REDIS_MAX_BULK // 2**20} MiB): {exc}") from exc
        raise
    finally:
        client.close()


# -- step 3: Redis -> JDBC ---------------------------------------------------------------------------------
def load(date: dt.date, table: str) -> int:
    from pyspark.sql import SparkSession

    from tasks.config import mysql

    client = redis_client()
    payload = client.get(redis_key(date.isoformat()))
    client.close()
    if payload is None:
        raise SystemExit(f"no curated JSON in Redis at {redis_key(date.isoformat())}")
    rows = json.loads(payload)
    del payload
    spark = SparkSession.builder.appName("seed-style-load").getOrCreate()
    schema = ("review_id string, country string, description string, designation string, points int, "
              "price string, province string, region_1 string, region_2 string, taster_name string, "
              "taster_twitter_handle string, title string, variety string, winery string, vintage int, "
              "num_wines_of_variety long, source_name string, source_row long, batch_date string")
    df = spark.createDataFrame(rows, schema)
    df = df.withColumn("price", df["price"].cast("decimal(10,2)")).withColumn("batch_date",
                                                                              df["batch_date"].cast("date"))
    cfg = mysql()
    # The MariaDB driver on a jdbc:mysql URL (permitMysqlScheme) so that Spark picks its MySQL dialect.
    url = (f"jdbc:mysql://{cfg.host}:{cfg.port}/{cfg.database}?permitMysqlScheme"
           f"&rewriteBatchedStatements=true&useBulkStmts=true")
    df.write.jdbc(url, table, mode="append",
                  properties={"user": cfg.user, "password": cfg.resolved_password(),
                              "driver": "org.mariadb.jdbc.Driver", "batchsize": "5000"})
    n = len(rows)
    spark.stop()
    return n


# -- the driver script -------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.baselines.seed_style")
    ap.add_argument("step", nargs="?", default="all", choices=["all", "transform", "load"])
    ap.add_argument("--date", required=True, type=dt.date.fromisoformat)
    ap.add_argument("--table", default="wine_reviews_seed")
    ap.add_argument("--work", help="local directory for the downloaded files (step all)")
    ap.add_argument("--files", help="JSON list of {name, format, precedence, path} (step transform)")
    args = ap.parse_args(argv)

    if args.step == "transform":
        transform(args.date, json.loads(args.files))
        return 0
    if args.step == "load":
        n = load(args.date, args.table)
        log(f"seed-style: {n} rows written to {args.table}")
        return 0

    from bench.space import MARIADB_JAR, spark_submit_command

    started = time.perf_counter()
    files = download_batch(args.date.isoformat(), Path(args.work))
    spec = [{"name": s.name, "format": s.format, "precedence": s.precedence, "path": str(p)} for s, p in files]
    downloaded = time.perf_counter()
    subprocess.run(spark_submit_command(HERE, ["transform", "--date", args.date.isoformat(),
                                               "--files", json.dumps(spec)], shuffle_partitions=False),
                   check=True)
    transformed = time.perf_counter()
    create_table(args.table)
    subprocess.run(spark_submit_command(HERE, ["load", "--date", args.date.isoformat(), "--table", args.table],
                                        jars=[str(MARIADB_JAR)], shuffle_partitions=False), check=True)
    done = time.perf_counter()
    print(json.dumps({"download_seconds": round(downloaded - started, 3),
                      "transform_seconds": round(transformed - downloaded, 3),
                      "load_seconds": round(done - transformed, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
