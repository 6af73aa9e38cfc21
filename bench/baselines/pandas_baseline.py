"""The pandas baseline: the whole job in one process, as a competent pandas author would write it.

``python -m bench.baselines.pandas_baseline --date D --table wine_reviews_pandas --work DIR``

SFTP download (paramiko) -> ``read_csv`` / JSON -> ``concat`` -> trim, validate (DATA_CONTRACT.md section 3)
-> sort by precedence and record number -> ``drop_duplicates`` on the normalised natural key -> review_id (SHA-1)
-> ``groupby("variety").transform("size")`` -> ``to_sql`` (SQLAlchemy + PyMySQL, ``method="multi"``,
``chunksize=2000``) into an empty table with wine_reviews' schema.

Idioms for the contract's malformed records:
- CSV field counts: ``read_csv`` gets more column names than any valid record has, so the C parser keeps
  records with too many fields instead of failing; it pads records with too few fields silently, so the field
  count of each record comes from one pass of the ``csv`` module over the same text.
- invalid UTF-8: ``encoding_errors="surrogateescape"`` keeps the bad bytes as lone surrogates; such records are
  malformed.
- JSON: ``pd.read_json`` cannot skip array elements that are not objects, so the array is ``json.load``-ed and
  the objects are handed to ``pd.DataFrame``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import re
import sys
import time
from pathlib import Path

from bench.baselines.common import (
    CURATED, FIELDS, INTEGER_RE, MAX_LENGTHS, NUMBER_RE, PRICE_MAX, create_table, download_batch, log,
)

EXTRA_COLUMNS = 64
SURROGATE = re.compile("[\ud800-\udfff]")


def read_csv_source(path: Path):
    import csv

    import pandas as pd

    # read_csv pads a record with too few fields with empty values, silently: the field count of every
    # record comes from one pass of the csv module (C code) over the same text, in the same record order.
    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        widths = [len(rec) for rec in reader if rec]
    width = len(header)
    names = [f"c{i}" for i in range(width + EXTRA_COLUMNS)]
    raw = pd.read_csv(path, header=None, skiprows=1, names=names, dtype=str, keep_default_na=False,
                      na_values=[], encoding="utf-8-sig", encoding_errors="surrogateescape", engine="c")
    if len(raw) != len(widths):
        raise RuntimeError(f"{path}: read_csv saw {len(raw)} records, the csv module {len(widths)}")
    frame = raw.iloc[:, :width].copy()
    frame.columns = [c.strip() for c in header]
    frame = frame.loc[:, [c for c in frame.columns if c in FIELDS]]
    for name in FIELDS:
        if name not in frame.columns:
            frame[name] = None
    frame = frame[list(FIELDS)].replace("", None)
    malformed = pd.Series(widths, index=frame.index) != width
    text = frame.fillna("").agg("".join, axis=1)
    malformed |= text.str.contains(SURROGATE)
    frame["malformed"] = malformed.to_numpy()
    frame["source_row"] = range(1, len(frame) + 1)
    return frame


def read_json_source(path: Path):
    import pandas as pd

    with open(path, encoding="utf-8-sig", errors="surrogateescape") as fh:
        elements = json.load(fh, parse_float=str, parse_int=str)
    records, malformed = [], []
    for element in elements:
        ok = isinstance(element, dict) and not any(isinstance(v, (dict, list)) for v in element.values())
        if ok:
            record = {k: (None if element.get(k) is None else
                          ("true" if element[k] is True else "false" if element[k] is False else str(element[k])))
                      for k in FIELDS}
            ok = not any(v is not None and SURROGATE.search(v) for v in record.values())
        else:
            record = {k: None for k in FIELDS}
        records.append(record)
        malformed.append(not ok)
    frame = pd.DataFrame.from_records(records, columns=list(FIELDS))
    frame["malformed"] = malformed
    frame["source_row"] = range(1, len(frame) + 1)
    return frame


def curate(frames, batch_date: dt.date):
    import numpy as np
    import pandas as pd

    df = pd.concat(frames, ignore_index=True)
    read = len(df)
    for name in FIELDS:  # str.strip() strips exactly the characters for which str.isspace() is true
        s = df[name].str.strip()
        df[name] = s.where(s != "", None)

    points, price = df["points"], df["price"]
    points_ok = points.notna() & points.str.fullmatch(INTEGER_RE, na=False)
    points_num = pd.to_numeric(points.where(points_ok), errors="coerce")
    points_ok &= points_num.between(80, 100)
    price_syntax = price.str.fullmatch(NUMBER_RE, na=False)
    price_num = pd.to_numeric(price.where(price_syntax), errors="coerce")
    price_ok = price.isna() | (price_syntax & (price_num > 0) & (price_num <= PRICE_MAX) & (price_num.round(2) > 0))
    too_long = np.zeros(len(df), dtype=bool)
    for name, limit in MAX_LENGTHS.items():
        too_long |= (df[name].str.len() > limit).fillna(False).to_numpy()
    valid = (~df["malformed"] & df["description"].notna() & df["variety"].notna() & df["winery"].notna()
             & points_ok & price_ok & ~too_long)
    df = df[valid].copy()
    df["points"] = points_num[valid].astype(int)
    df["price"] = price_num[valid].round(2)

    # The natural key: every run of white space (re's \s is str.isspace()) collapsed to one space.
    for name in ("winery", "variety", "description"):
        df[f"{name}_n"] = df[name].str.replace(r"\s+", " ", regex=True)
    df = df.sort_values(["precedence", "source_row"], ascending=[False, True], kind="stable")
    df = df.drop_duplicates(subset=["winery_n", "variety_n", "description_n"], keep="first")
    df["review_id"] = [hashlib.sha1(f"{w}\x1f{v}\x1f{d}".encode("utf-8")).hexdigest()
                       for w, v, d in zip(df["winery_n"], df["variety_n"], df["description_n"])]
    df["num_wines_of_variety"] = df.groupby("variety")["variety"].transform("size")

    year_re = re.compile(r"(?<!\w)([0-9]{4})(?!\w)")

    def vintage(title):
        if not isinstance(title, str):
            return None
        for y in year_re.findall(title):
            if 1900 <= int(y) <= batch_date.year:
                return int(y)
        return None

    df["vintage"] = df["title"].map(vintage).astype("Int64")
    df["batch_date"] = batch_date
    log(f"pandas: {read} records read, {len(df)} kept")
    return df[list(CURATED)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.baselines.pandas_baseline")
    ap.add_argument("--date", required=True, type=dt.date.fromisoformat)
    ap.add_argument("--table", default="wine_reviews_pandas")
    ap.add_argument("--work", required=True, help="local directory for the downloaded files")
    ap.add_argument("--chunksize", type=int, default=2000)
    args = ap.parse_args(argv)

    import sqlalchemy

    from tasks.config import mysql

    started = time.perf_counter()
    files = download_batch(str(args.date), Path(args.work))
    downloaded = time.perf_counter()
    frames = []
    for src, path in files:
        frame = read_csv_source(path) if src.format == "csv" else read_json_source(path)
        frame["source_name"], frame["precedence"] = src.name, src.precedence
        frames.append(frame)
    curated = curate(frames, args.date)
    transformed = time.perf_counter()

    cfg = mysql()
    url = sqlalchemy.engine.URL.create("mysql+pymysql", username=cfg.user, password=cfg.resolved_password(),
                                       host=cfg.host, port=cfg.port, database=cfg.database,
                                       query={"charset": "utf8mb4"})
    create_table(args.table)
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        curated.to_sql(args.table, conn, if_exists="append", index=False, method="multi",
                       chunksize=args.chunksize)
    engine.dispose()
    done = time.perf_counter()
    print(json.dumps({"rows": len(curated), "download_seconds": round(downloaded - started, 3),
                      "transform_seconds": round(transformed - downloaded, 3),
                      "load_seconds": round(done - transformed, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
