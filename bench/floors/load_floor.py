"""The load floor: one raw ``LOAD DATA LOCAL INFILE`` of the batch's curated rows into an empty table.

``python -m bench.export_tsv`` (the harness, untimed) writes the curated rows once as LOAD DATA text with the
pipeline's own encoder; ``python -m bench.floors.load_floor --tsv FILE [--table wine_reviews]`` then loads it in
one statement and commits. No staging, no upsert, no marker. Prints one JSON line with the rows and seconds.
"""
from __future__ import annotations

import argparse
import json
import sys
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.floors.load_floor")
    ap.add_argument("--tsv", required=True)
    ap.add_argument("--table", default="wine_reviews")
    args = ap.parse_args(argv)

    from tasks import mysql
    from tasks.load import COLUMNS

    conn = mysql.connect(local_infile=True, autocommit=False)
    try:
        started = time.perf_counter()
        with conn.offering(args.tsv), conn.cursor() as cur:
            rows = cur.execute(
                f"LOAD DATA LOCAL INFILE %s INTO TABLE {args.table} CHARACTER SET utf8mb4 "
                f"FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' "
                f"({', '.join(COLUMNS)})", (args.tsv,))
        conn.commit()
        seconds = time.perf_counter() - started
    finally:
        conn.close()
    print(json.dumps({"rows": rows, "seconds_in_statement": round(seconds, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
