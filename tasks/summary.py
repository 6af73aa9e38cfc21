"""``python -m tasks.summary --date D``: what a batch left behind, for the end of ``make run``."""
from __future__ import annotations

import argparse
import datetime
import sys

import luigi.interface

from tasks import mysql
from tasks.base import BatchTask
from tasks.transform import read_counts


def main(argv: list[str] | None = None) -> int:
    """Prints the batch's counts per source and its rows in wine_reviews."""
    parser = argparse.ArgumentParser(prog="python -m tasks.summary", description=__doc__)
    parser.add_argument("--date", type=datetime.date.fromisoformat, default=datetime.date.today())
    args = parser.parse_args(argv)
    counts = read_counts(BatchTask(date=args.date).s3_url("counts"))
    conn = mysql.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM wine_reviews WHERE batch_date = %s", (args.date,))
        batch_rows = cur.fetchone()[0]
        cur.execute("SELECT COUNT(*) FROM wine_reviews")
        total_rows = cur.fetchone()[0]
    conn.close()
    out = sys.stdout
    out.write(f"\nwinepipe batch {args.date}\n")
    out.write(f"  {'source':<20} {'read':>9} {'rejected':>9} {'duplicates':>10} {'kept':>9}\n")
    for row in counts:
        out.write(f"  {row['source_name']:<20} {row['records_read']:>9} {row['rejected']:>9} "
                  f"{row['duplicates']:>10} {row['kept']:>9}\n")
    out.write(f"  rows of this batch in wine_reviews: {batch_rows} (table total {total_rows})\n")
    scheduler = luigi.interface.core().scheduler_url.rstrip("/") or "(none: --local-scheduler)"
    out.write(f"  visualiser: {scheduler}/  (task history: {scheduler}/history)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
