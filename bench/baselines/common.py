"""What both baselines share with each other, not with the pipeline: the batch download and the target table.

Both read the same luigi configuration as the pipeline (LUIGI_CONFIG_PATH), so they talk to the same SFTP
server, MySQL database and Redis, and know the same sources and precedence.
"""
from __future__ import annotations

import posixpath
import sys
import time
from pathlib import Path

# DATA_CONTRACT.md sections 2-3, written out again here on purpose: a baseline is its own implementation.
FIELDS = ("country", "description", "designation", "points", "price", "province", "region_1", "region_2",
          "taster_name", "taster_twitter_handle", "title", "variety", "winery")
MAX_LENGTHS = {"country": 64, "designation": 255, "province": 128, "region_1": 128, "region_2": 128,
               "taster_name": 128, "taster_twitter_handle": 64, "title": 512, "variety": 128, "winery": 255}
CURATED = ("review_id", "country", "description", "designation", "points", "price", "province", "region_1",
           "region_2", "taster_name", "taster_twitter_handle", "title", "variety", "winery", "vintage",
           "num_wines_of_variety", "source_name", "source_row", "batch_date")
WHITESPACE = "".join(chr(cp) for cp in range(sys.maxunicode + 1) if chr(cp).isspace())
INTEGER_RE = r"[+-]?[0-9]+(\.0+)?"
NUMBER_RE = r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"
PRICE_MAX = 100000

MIGRATION = Path(__file__).resolve().parents[2] / "tasks" / "migrations" / "0001_wine_reviews.sql"


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def download_batch(date: str, dest: Path) -> list[tuple[object, Path]]:
    """The batch's source files from the SFTP drop to ``dest``: [(source, local path)], highest precedence first."""
    from tasks import sftp
    from tasks.config import sources, wine

    dest.mkdir(parents=True, exist_ok=True)
    out = []
    with sftp.connect() as conn:
        for src in sources():
            local = dest / src.file
            conn.get(posixpath.join(wine().remote_root, date, src.file), str(local))
            out.append((src, local))
    return out


def create_table(table: str) -> None:
    """``table`` with wine_reviews' schema (same keys and indexes), empty."""
    from tasks import mysql

    ddl = MIGRATION.read_text(encoding="utf-8").split(";")[0]
    ddl = ddl[ddl.index("CREATE TABLE"):].replace("IF NOT EXISTS wine_reviews", f"IF NOT EXISTS {table}")
    ddl = ddl.replace("idx_wine_reviews_", f"idx_{table}_")
    conn = mysql.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
            cur.execute(ddl)
    finally:
        conn.close()
