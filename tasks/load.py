"""Load: a batch's curated Parquet into MySQL ``wine_reviews``, atomically and exactly once."""
from __future__ import annotations

import logging
import os
import tempfile
import time

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks import mysql
from tasks.base import BatchTask
from tasks.s3 import list_keys, s3_client, split_url
from tasks.transform import TransformWine, read_counts

log = logging.getLogger("winepipe.load")

TABLE = "wine_reviews"
# The curated columns, in the order of DATA_CONTRACT.md section 2.
COLUMNS = (
    "review_id", "country", "description", "designation", "points", "price", "province", "region_1",
    "region_2", "taster_name", "taster_twitter_handle", "title", "variety", "winery", "vintage",
    "num_wines_of_variety", "source_name", "source_row", "batch_date",
)
# LOAD DATA's default escaping (ESCAPED BY '\\'); the backslash itself must be escaped first.
_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"), ("\x00", "\\0"))
NULL = "\\N"


class LoadMismatch(RuntimeError):
    """The staged rows do not match the batch's curated count; nothing was committed."""


def to_load_data_lines(batch: pa.RecordBatch | pa.Table) -> bytes:
    """Rows as LOAD DATA text: tab-separated, backslash-escaped, ``\\N`` for NULL, one line per row."""
    fields = []
    for name in COLUMNS:
        column = batch.column(name)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            for raw, escaped in _ESCAPES:
                column = pc.replace_substring(column, raw, escaped)
        else:
            column = pc.cast(column, pa.string())
        fields.append(pc.fill_null(column, NULL))
    if not len(batch):
        return b""
    rows = pc.binary_join_element_wise(*fields, "\t")
    return ("\n".join(rows.to_pylist()) + "\n").encode("utf-8")


class LoadWine(BatchTask):
    """Upserts the batch into ``wine_reviews`` and records it in ``table_updates`` in one transaction."""

    def requires(self) -> TransformWine:
        return TransformWine(date=self.date)

    def output(self) -> mysql.MySqlMarkerTarget:
        return mysql.MySqlMarkerTarget(update_id=self.task_id, target_table=TABLE)

    def run(self) -> None:
        started = time.monotonic()
        mysql.migrate()
        expected = sum(int(row["kept"]) for row in read_counts(self.s3_url("counts")))
        stage = f"stage_{TABLE}_{self.date:%Y%m%d}"
        conn = mysql.connect(local_infile=True)
        try:
            with conn.cursor() as cur:
                # A crashed earlier attempt may have left its staging table behind.
                cur.execute(f"DROP TABLE IF EXISTS {stage}")
                cur.execute(f"CREATE TABLE {stage} ENGINE=InnoDB AS SELECT {', '.join(COLUMNS)} FROM {TABLE} LIMIT 0")
            self._stage(conn, stage)
            result = self._upsert(conn, stage, expected)
            with conn.cursor() as cur:
                cur.execute(f"DROP TABLE IF EXISTS {stage}")
        finally:
            conn.close()
        result["seconds"] = round(time.monotonic() - started, 3)
        self.result = result
        log.info("loaded batch %s into %s: %d inserted, %d updated, %d unchanged in %.1fs",
                 self.date, TABLE, result["inserted"], result["updated"], result["unchanged"], result["seconds"])

    def _stage(self, conn, stage: str) -> None:
        client = s3_client()
        prefix = self.s3_url("curated")
        bucket, _ = split_url(prefix)
        parts = [k for k in list_keys(prefix) if k.endswith(".parquet")]
        with tempfile.TemporaryDirectory(prefix="winepipe-load-") as tmp:
            parquet_path, tsv_path = os.path.join(tmp, "part.parquet"), os.path.join(tmp, "part.tsv")
            for key in parts:
                client.download_file(bucket, key, parquet_path)
                with open(tsv_path, "wb") as out:
                    for batch in pq.ParquetFile(parquet_path).iter_batches(batch_size=65536, columns=list(COLUMNS)):
                        out.write(to_load_data_lines(batch))
                with conn.cursor() as cur:
                    cur.execute(
                        f"LOAD DATA LOCAL INFILE %s INTO TABLE {stage} CHARACTER SET utf8mb4 "
                        f"FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' "
                        f"({', '.join(COLUMNS)})", (tsv_path,))

    def _upsert(self, conn, stage: str, expected: int) -> dict:
        updates = ", ".join(f"{c} = VALUES({c})" for c in COLUMNS if c != "review_id")
        conn.begin()
        try:
            with conn.cursor() as cur:
                cur.execute(f"SELECT COUNT(*) FROM {stage}")
                staged = cur.fetchone()[0]
                if staged != expected:
                    raise LoadMismatch(f"batch {self.date}: staged {staged} rows but the curated count is {expected}; "
                                       f"nothing was loaded")
                cur.execute(f"SELECT COUNT(*) FROM {stage} s LEFT JOIN {TABLE} t ON t.review_id = s.review_id "
                            f"WHERE t.review_id IS NULL")
                inserted = cur.fetchone()[0]
                # Affected rows: 1 per inserted row, 2 per changed row, 0 per unchanged row.
                affected = cur.execute(f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) "
                                       f"SELECT {', '.join(COLUMNS)} FROM {stage} "
                                       f"ON DUPLICATE KEY UPDATE {updates}")
            self.output().touch(conn)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        updated = (affected - inserted) // 2
        return {"staged": staged, "inserted": inserted, "updated": updated,
                "unchanged": staged - inserted - updated}
