"""Load: a batch's curated Parquet into MySQL ``wine_reviews``, atomically and exactly once.

How a load goes (LoadWine.run):

1. apply pending schema migrations (tasks/mysql.py);
2. (re)create the batch's staging table ``stage_wine_reviews_<yyyymmdd>``: same column types as
   ``wine_reviews``, no keys, so the bulk load only appends;
3. stream the curated Parquet parts from S3 into ``LOAD DATA LOCAL INFILE`` through a FIFO: a writer
   thread turns each part into LOAD DATA text and writes it into the FIFO while PyMySQL reads the FIFO as
   the "local file" (it opens the named file and sends it in 16 KB packets), so the batch is never copied
   whole to local disk and memory holds at most one Parquet part plus one Arrow record batch;
4. in one transaction: check the staged count against the curated count, upsert into ``wine_reviews``,
   write the marker row; commit;
5. drop the staging table.

A crash before the commit leaves ``wine_reviews`` and the marker as they were (the server rolls back
the open transaction when the connection dies); the next attempt drops the leftover staging table and
starts over, and the upsert makes a re-run converge to the same table.

Test-only hook: with ``WINEPIPE_LOAD_PAUSE_AT`` set to ``staged`` (after the bulk load, before the
transaction) or ``upserted`` (after the upsert and the marker, before the commit) and
``WINEPIPE_LOAD_PAUSE_FILE`` set to a path, the load creates that file and sleeps up to
``WINEPIPE_LOAD_PAUSE_SECONDS`` (default 60), so a test can kill the process at a known point.
"""
from __future__ import annotations

import contextlib
import datetime
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import luigi
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pymysql

from tasks import mysql
from tasks.base import BatchTask
from tasks.config import wine
from tasks.s3 import list_keys, s3_client, split_url
from tasks.transform import TransformWine, read_counts

log = logging.getLogger("winepipe.load")

TABLE = "wine_reviews"
STAGE_PREFIX = f"stage_{TABLE}_"
# The curated columns, in the order of DATA_CONTRACT.md section 2.
COLUMNS = (
    "review_id", "country", "description", "designation", "points", "price", "province", "region_1",
    "region_2", "taster_name", "taster_twitter_handle", "title", "variety", "winery", "vintage",
    "num_wines_of_variety", "source_name", "source_row", "batch_date",
)
# Whether a stored review changed is decided on these: batch_date only says which batch last changed it.
CONTENT_COLUMNS = tuple(c for c in COLUMNS if c not in ("review_id", "batch_date"))
_TEXT_COLUMNS = frozenset({
    "country", "description", "designation", "province", "region_1", "region_2", "taster_name",
    "taster_twitter_handle", "title", "variety", "winery", "source_name",
})
# LOAD DATA's default escaping (ESCAPED BY '\\'); the backslash itself must be escaped first.
_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"), ("\x00", "\\0"))
_NEEDS_ESCAPE = r"[\\\t\n\r\x00]"
NULL = "\\N"

PAUSE_AT_ENV, PAUSE_FILE_ENV, PAUSE_SECONDS_ENV = (
    "WINEPIPE_LOAD_PAUSE_AT", "WINEPIPE_LOAD_PAUSE_FILE", "WINEPIPE_LOAD_PAUSE_SECONDS")


class load(luigi.Config):  # noqa: N801 - the section name
    """``[load]``: tuning of the MySQL load."""

    batch_rows = luigi.IntParameter(
        default=65536, description="rows per Arrow record batch turned into LOAD DATA text at a time")
    stage_engine = luigi.ChoiceParameter(
        choices=["InnoDB", "Aria", "MyISAM"], default="InnoDB",
        description="storage engine of the staging table. It is dropped after each load, so a "
                    "non-transactional engine (Aria, MyISAM) would be safe too; measured at 280k rows, Aria "
                    "was no faster and varied more (its 128 MB page cache is smaller than a batch)")


class LoadMismatch(RuntimeError):
    """The staged rows do not match the batch's curated count; nothing was committed."""


class LoadWarnings(RuntimeError):
    """LOAD DATA reported warnings (truncated or converted values); nothing was committed."""


# -- LOAD DATA text -------------------------------------------------------------------------------
def _load_data_field(column: pa.Array) -> pa.Array:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        # Most values contain nothing to escape; skip the five copying passes when none does.
        if pc.any(pc.match_substring_regex(column, _NEEDS_ESCAPE)).as_py():
            for raw, escaped in _ESCAPES:
                column = pc.replace_substring(column, raw, escaped)
    else:
        column = pc.cast(column, pa.string())  # decimals keep their scale ("12.50"), dates are ISO
    return pc.fill_null(column, NULL)


def to_load_data_text(batch: pa.RecordBatch | pa.Table) -> memoryview:
    """Rows as LOAD DATA text: tab-separated, backslash-escaped, ``\\N`` for NULL, ``\\n`` after each row.

    The result is a view of the Arrow buffer of the joined rows (no per-row Python objects).
    """
    if not len(batch):
        return memoryview(b"")
    fields = [_load_data_field(batch.column(name)) for name in COLUMNS]
    fields[-1] = pc.binary_join_element_wise(fields[-1], "", "\n")  # the line terminator
    rows = pc.binary_join_element_wise(*fields, "\t")
    if isinstance(rows, pa.ChunkedArray):
        rows = rows.combine_chunks()
    offset_type = np.int64 if pa.types.is_large_string(rows.type) else np.int32
    offsets = np.frombuffer(rows.buffers()[1], dtype=offset_type)
    start, end = int(offsets[rows.offset]), int(offsets[rows.offset + len(rows)])
    return memoryview(rows.buffers()[2])[start:end]


def curated_batches(prefix_url: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """The record batches of every Parquet part under ``prefix_url``, one part in memory at a time."""
    client = s3_client()
    bucket, _ = split_url(prefix_url)
    for key in sorted(k for k in list_keys(prefix_url) if k.endswith(".parquet")):
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        parquet = pq.ParquetFile(pa.BufferReader(pa.py_buffer(body)))
        yield from parquet.iter_batches(batch_size=batch_rows, columns=list(COLUMNS))


class _FifoWriter(threading.Thread):
    """Writes chunks into a FIFO; the error it met, if any, is kept for the reading side to raise."""

    def __init__(self, path: str, chunks: Iterable[memoryview]) -> None:
        super().__init__(name="load-data-fifo-writer", daemon=True)
        self.path = path
        self.chunks = chunks
        self.error: BaseException | None = None
        self.bytes = 0

    def run(self) -> None:
        try:
            with open(self.path, "wb", buffering=0) as fifo:  # blocks until the reader opens the FIFO
                for chunk in self.chunks:
                    # A FIFO write may be partial; write until the whole chunk is in.
                    view = chunk
                    while view:
                        written = fifo.write(view)
                        view = view[written:]
                    self.bytes += len(chunk)
        except BaseException as exc:  # noqa: BLE001 - handed over to the reading thread
            self.error = exc


@contextlib.contextmanager
def load_data_fifo(chunks: Iterable[memoryview], work_dir: str | None = None) -> Iterator[_FifoWriter]:
    """A FIFO fed with ``chunks`` by a writer thread; yields the writer (``.path`` is the FIFO).

    On exit the writer is finished and its error, if any, raised: a writer that failed half-way closes the
    FIFO, which the reader sees as a normal end of file, so the caller must not trust the load without this.
    """
    with tempfile.TemporaryDirectory(prefix="winepipe-load-", dir=work_dir) as tmp:
        path = os.path.join(tmp, "rows.tsv")
        os.mkfifo(path, 0o600)
        writer = _FifoWriter(path, chunks)
        writer.start()
        try:
            yield writer
        finally:
            if writer.is_alive():
                # The reader never opened the FIFO (the statement failed) or stopped early: open and close
                # it ourselves so a blocked open() returns and further writes fail with a broken pipe.
                with contextlib.suppress(OSError):
                    os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
            writer.join()
        if writer.error is not None:
            raise RuntimeError(f"streaming the curated rows failed: {writer.error!r}") from writer.error


# -- SQL ------------------------------------------------------------------------------------------
def stage_table(date: datetime.date) -> str:
    """The staging table of batch ``date``."""
    return f"{STAGE_PREFIX}{date:%Y%m%d}"


def _load_data_sql(stage: str, path: str) -> tuple[str, tuple]:
    return (f"LOAD DATA LOCAL INFILE %s INTO TABLE {stage} CHARACTER SET utf8mb4 "
            f"FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' "
            f"({', '.join(COLUMNS)})", (path,))


def _upsert_sql(stage: str) -> str:
    # BINARY: the table's collation is case- and accent-insensitive, but a change of case is a change.
    def differs(col: str) -> str:
        new, old = f"VALUES({col})", f"{TABLE}.{col}"
        if col in _TEXT_COLUMNS:
            new, old = f"BINARY {new}", f"BINARY {old}"
        return f"NOT ({old} <=> {new})"

    changed = " OR ".join(differs(c) for c in CONTENT_COLUMNS)
    # A later batch replaces an earlier one's values, never the reverse: a late file of an older batch
    # (loaded after a newer one by a backfill) leaves the newer values alone.
    not_older = f"VALUES(batch_date) >= {TABLE}.batch_date"
    # batch_date comes first: assignments run left to right, so its test still sees the old values. A
    # review delivered again unchanged keeps its row untouched (updated_at and batch_date included).
    assignments = [f"batch_date = IF({not_older} AND ({changed}), VALUES(batch_date), {TABLE}.batch_date)"]
    assignments += [f"{c} = IF({not_older}, VALUES({c}), {TABLE}.{c})" for c in CONTENT_COLUMNS]
    cols = ", ".join(COLUMNS)
    return (f"INSERT INTO {TABLE} ({cols}) SELECT {cols} FROM {stage} "
            f"ON DUPLICATE KEY UPDATE {', '.join(assignments)}")


def _test_pause(point: str) -> None:
    """The test-only pause hook (see the module docstring); does nothing unless the environment asks."""
    if os.environ.get(PAUSE_AT_ENV) != point:
        return
    flag = os.environ.get(PAUSE_FILE_ENV)
    if flag:
        Path(flag).touch()
    log.warning("test hook: pausing the load at %r", point)
    time.sleep(float(os.environ.get(PAUSE_SECONDS_ENV, "60")))


class LoadWine(BatchTask):
    """Upserts the batch into ``wine_reviews`` and records it in ``table_updates`` in one transaction."""

    def requires(self) -> TransformWine:
        return TransformWine(date=self.date)

    def output(self) -> mysql.MySqlMarkerTarget:
        return mysql.MySqlMarkerTarget(update_id=self.task_id, target_table=TABLE)

    def run(self) -> None:
        started = time.monotonic()
        mysql.migrate()
        counts = read_counts(self.s3_url("counts"))
        expected = sum(int(row["kept"]) for row in counts)
        stage = stage_table(self.date)
        conn = mysql.connect(local_infile=True, autocommit=True)
        try:
            with conn.cursor() as cur:
                # One load of a batch at a time, whoever started it (cron, a backfill, a hand-run with another
                # command line): two would share the staging table. The lock ends with the connection.
                cur.execute("SELECT GET_LOCK(CONCAT('winepipe.load.', DATABASE(), '.', %s), 0)",
                            (f"{self.date:%Y%m%d}",))
                if cur.fetchone()[0] != 1:
                    raise RuntimeError(f"another load of batch {self.date} is running in this database; "
                                       f"it will complete the batch")
            if self.output().exists():
                log.info("batch %s was loaded by another process meanwhile; nothing to do", self.date)
                self.metrics = {"staged": 0, "inserted": 0, "updated": 0, "unchanged": 0}
                return
            self._drop_stages_of_loaded_batches(conn)
            with conn.cursor() as cur:
                # A crashed earlier attempt may have left its staging table behind. No keys: LOAD DATA
                # only appends, and the upsert reads the staging table once, in full.
                cur.execute(f"DROP TABLE IF EXISTS {stage}")
                cur.execute(f"CREATE TABLE {stage} ENGINE={load().stage_engine} "
                            f"AS SELECT {', '.join(COLUMNS)} FROM {TABLE} LIMIT 0")
            self._status("staging the curated rows")
            streamed = self._stage(conn, stage)
            _test_pause("staged")
            self._status("upserting")
            metrics = self._upsert(conn, stage, expected)
            with conn.cursor() as cur:
                cur.execute(f"DROP TABLE IF EXISTS {stage}")
        finally:
            conn.close()
        seconds = time.monotonic() - started
        metrics.update(seconds=round(seconds, 3), rows_per_s=round(metrics["staged"] / seconds, 1) if seconds else 0.0)
        # The accounting of DATA_CONTRACT.md section 5 is part of the load result.
        metrics["sources"] = {row["source_name"]: {k: v for k, v in row.items() if k != "source_name"}
                              for row in counts}
        self.metrics = metrics
        log.info("loaded batch %s into %s: %d staged (%.1f MB of LOAD DATA text), %d inserted, %d updated, "
                 "%d unchanged in %.1fs (%.0f rows/s)", self.date, TABLE, metrics["staged"], streamed / 1e6,
                 metrics["inserted"], metrics["updated"], metrics["unchanged"], seconds, metrics["rows_per_s"])

    def _status(self, message: str) -> None:
        # Luigi only sets set_status_message while a worker runs the task (it is None otherwise, e.g. when a
        # test or a maintenance script calls run() directly).
        if callable(self.set_status_message):
            self.set_status_message(message)

    def _drop_stages_of_loaded_batches(self, conn: pymysql.connections.Connection) -> None:
        """Drops staging tables left by a crash between a batch's commit and its DROP (its marker exists).

        Staging tables of batches without a marker may belong to a load running right now: they stay.
        """
        with conn.cursor() as cur:
            cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
                        "AND table_name LIKE %s", (STAGE_PREFIX.replace("_", "\\_") + "%",))
            for (name,) in cur.fetchall():
                try:
                    date = datetime.datetime.strptime(name[len(STAGE_PREFIX):], "%Y%m%d").date()
                except ValueError:
                    continue
                if date != self.date and LoadWine(date=date).output().exists():
                    log.info("dropping %s, left behind by the committed load of %s", name, date)
                    cur.execute(f"DROP TABLE IF EXISTS {name}")

    def _stage(self, conn: pymysql.connections.Connection, stage: str) -> int:
        """Bulk-loads the batch into ``stage``; returns the bytes of LOAD DATA text streamed."""
        texts = (to_load_data_text(batch) for batch in curated_batches(self.s3_url("curated"), load().batch_rows))
        with load_data_fifo(texts, wine().work_dir or None) as writer, conn.cursor() as cur:
            cur.execute(*_load_data_sql(stage, writer.path))
            # SELECT @@warning_count does not reset the warnings, so SHOW WARNINGS still lists them.
            cur.execute("SELECT @@warning_count")
            warnings = cur.fetchone()[0]
            if warnings:
                cur.execute("SHOW WARNINGS LIMIT 5")
                shown = "; ".join(f"{level} {code}: {message}" for level, code, message in cur.fetchall())
                raise LoadWarnings(f"batch {self.date}: LOAD DATA into {stage} gave {warnings} warning(s), "
                                   f"so some values would not round-trip exactly: {shown}")
        return writer.bytes

    def _upsert(self, conn: pymysql.connections.Connection, stage: str, expected: int) -> dict:
        """Checks the count, upserts and writes the marker in one transaction; returns the row counts."""
        conn.begin()
        try:
            with conn.cursor() as cur:
                cur.execute(f"SELECT COUNT(*) FROM {stage}")
                staged = cur.fetchone()[0]
                if staged != expected:
                    raise LoadMismatch(f"batch {self.date}: staged {staged} rows but the curated count (sum of "
                                       f"kept in counts/) is {expected}; nothing was loaded")
                cur.execute(f"SELECT COUNT(*) FROM {stage} s JOIN {TABLE} t ON t.review_id = s.review_id")
                existing = cur.fetchone()[0]
                # Affected rows (no CLIENT_FOUND_ROWS): 1 per inserted row, 2 per changed row, 0 per unchanged.
                affected = cur.execute(_upsert_sql(stage))
            self.output().touch(conn)
            _test_pause("upserted")
            conn.commit()
        except BaseException:
            with contextlib.suppress(pymysql.err.Error):
                conn.rollback()
            raise
        inserted = staged - existing
        updated = (affected - inserted) // 2
        return {"staged": staged, "inserted": inserted, "updated": updated, "unchanged": existing - updated}
