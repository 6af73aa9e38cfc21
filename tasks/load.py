"""Load: a batch's curated Parquet into MySQL ``wine_reviews``, atomically and exactly once.

How a load goes (LoadWine.run):

1. apply pending schema migrations (tasks/mysql.py);
2. stream the curated Parquet parts from S3 in chunks of ``[load] batch_rows`` rows. A stager thread, on its
   own connection (autocommit, ``local_infile``), turns each chunk into LOAD DATA text and bulk-loads it into
   a staging table of its own (``stage_wine_reviews_<yyyymmdd>_<n>``: the column types of ``wine_reviews``,
   no keys, so the load only appends) through a FIFO: a writer thread writes the text into the FIFO while
   PyMySQL reads the FIFO as the "local file", so the batch is never copied to local disk and memory holds one
   Parquet part and one chunk;
3. meanwhile, on the main connection, one transaction (READ COMMITTED, so each statement sees the chunks
   staged so far) upserts each staged chunk into ``wine_reviews`` as soon as it is in: the server parses the
   next chunk while it indexes this one, on two cores at once;
4. still in that transaction: check the staged count against the curated count, write the marker row; commit;
5. drop the staging tables.

Loads of different batches may run at once (a backfill with several workers). They share most review_ids, so
the later one waits on the earlier one's row locks until that commits; every batch upserts its chunks in the
same key order (the curated part a review_id hashes to, then review_id), so two loads do not deadlock. A load
that waits longer than ``innodb_lock_wait_timeout`` fails having committed nothing; the next run loads it.

A crash before the commit leaves ``wine_reviews`` and the marker as they were (the server rolls back
the open transaction when the connection dies); the next attempt drops the leftover staging tables and
starts over, and the upsert makes a re-run converge to the same table.

Test-only hook: with ``WINEPIPE_LOAD_PAUSE_AT`` set to ``staged`` (the first chunk bulk-loaded, the
transaction open, nothing upserted yet) or ``upserted`` (every chunk upserted and the marker written, before
the commit) and
``WINEPIPE_LOAD_PAUSE_FILE`` set to a path, the load creates that file and sleeps up to
``WINEPIPE_LOAD_PAUSE_SECONDS`` (default 60), so a test can kill the process at a known point.
"""
from __future__ import annotations

import contextlib
import datetime
import logging
import os
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import luigi
import pymysql

from tasks import mysql
from tasks.base import BatchTask
from tasks.config import wine
from tasks.s3 import list_keys, s3_client, split_url
from tasks.transform import TransformWine, read_counts

if TYPE_CHECKING:
    import pyarrow as pa

# pyarrow and NumPy are imported where the rows are read and encoded: every `luigi --module tasks` command
# imports this module, and they cost about 0.15 s of the start-up of runs that load nothing (extract, a no-op).

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
        default=16384, description="rows per chunk: each chunk is turned into LOAD DATA text, bulk-loaded into "
                                   "a staging table of its own and upserted while the next one is loaded")
    stage_engine = luigi.ChoiceParameter(
        choices=["InnoDB", "Aria", "MyISAM"], default="InnoDB",
        description="storage engine of the staging tables. They are dropped after each load, so a "
                    "non-transactional engine (Aria, MyISAM) would be safe too; measured at 280k rows, Aria "
                    "was no faster and varied more (its 128 MB page cache is smaller than a batch)")


class LoadMismatch(RuntimeError):
    """The staged rows do not match the batch's curated count; nothing was committed."""


class LoadWarnings(RuntimeError):
    """LOAD DATA reported warnings (truncated or converted values); nothing was committed."""


# -- LOAD DATA text -------------------------------------------------------------------------------
def _load_data_field(column: pa.Array) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

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
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

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
    import pyarrow as pa
    import pyarrow.parquet as pq

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
def load_data_fifo(chunks: Iterable[memoryview], work_dir: str | None = None,
                   prefix: str = "winepipe-load-") -> Iterator[_FifoWriter]:
    """A FIFO fed with ``chunks`` by a writer thread; yields the writer (``.path`` is the FIFO).

    On exit the writer is finished and its error, if any, raised: a writer that failed half-way closes the
    FIFO, which the reader sees as a normal end of file, so the caller must not trust the load without this.
    """
    with tempfile.TemporaryDirectory(prefix=prefix, dir=work_dir) as tmp:
        path = os.path.join(tmp, "rows.tsv")
        os.mkfifo(path, 0o600)
        writer = _FifoWriter(path, chunks)
        writer.start()
        try:
            yield writer
        finally:
            # The reader never opened the FIFO (the statement failed) or stopped early. Open a read end
            # ourselves until the writer is gone: while it is open the writer's blocked open() returns, and once
            # it is closed again the writer's next write fails with a broken pipe. In a loop, because the
            # writer may not have reached its open() yet when the read end is first opened and closed.
            while writer.is_alive():
                try:
                    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
                except OSError:
                    break
                writer.join(0.05)
                os.close(fd)
            writer.join()
        if writer.error is not None:
            raise RuntimeError(f"streaming the curated rows failed: {writer.error!r}") from writer.error


# -- SQL ------------------------------------------------------------------------------------------
def stage_table(date: datetime.date, chunk: int) -> str:
    """The staging table of chunk ``chunk`` (0, 1, ...) of batch ``date``."""
    return f"{STAGE_PREFIX}{date:%Y%m%d}_{chunk}"


def stage_tables_like(date: datetime.date | None = None) -> str:
    """A LIKE pattern covering the staging tables of batch ``date`` (of every batch when None); it may match
    more, so filter the names with ``batch_of_stage_table``."""
    return STAGE_PREFIX.replace("_", "\\_") + (f"{date:%Y%m%d}%" if date else "%")


def batch_of_stage_table(name: str) -> datetime.date | None:
    """The batch a staging table belongs to, from its name; None for a name of another form.

    ``stage_wine_reviews_<yyyymmdd>_<n>``, and ``stage_wine_reviews_<yyyymmdd>`` of the loads before chunks,
    so that a table left by a crash of the older version is still cleaned up.
    """
    date, sep, chunk = name[len(STAGE_PREFIX):].partition("_") if name.startswith(STAGE_PREFIX) else ("", "", "")
    try:
        if len(date) != 8 or not date.isdigit() or (sep and not chunk.isdigit()):
            return None
        return datetime.datetime.strptime(date, "%Y%m%d").date()
    except ValueError:
        return None


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


def _stage_tables(cur: pymysql.cursors.Cursor, date: datetime.date | None = None) -> list[tuple[str, datetime.date]]:
    """The staging tables in the database, of batch ``date`` (of every batch when None), with their batch."""
    cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
                "AND table_name LIKE %s", (stage_tables_like(date),))
    found = [(name, batch_of_stage_table(name)) for (name,) in cur.fetchall()]
    return [(name, batch) for name, batch in found if batch is not None and (date is None or batch == date)]


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
        conn = mysql.connect(autocommit=True)
        try:
            with conn.cursor() as cur:
                # One load of a batch at a time, whoever started it (cron, a backfill, a hand-run with another
                # command line): two would share the staging tables. The lock ends with the connection.
                cur.execute("SELECT GET_LOCK(CONCAT('winepipe.load.', DATABASE(), '.', %s), 0)",
                            (f"{self.date:%Y%m%d}",))
                if cur.fetchone()[0] != 1:
                    raise RuntimeError(f"another load of batch {self.date} is running in this database; "
                                       f"it will complete the batch")
            if self.output().exists():
                log.info("batch %s was loaded by another process meanwhile; nothing to do", self.date)
                self.metrics = {"staged": 0, "chunks": 0, "inserted": 0, "updated": 0, "unchanged": 0}
                return
            self._drop_stages_of_loaded_batches(conn)
            # A crashed earlier attempt may have left its staging tables and its FIFO's directory behind.
            self._drop_stages(conn)
            self._remove_fifo_dirs()
            with conn.cursor() as cur:
                # The first chunk's table is the template of the others (CREATE TABLE ... LIKE), so the stager
                # never reads wine_reviews' definition while this connection's transaction writes to it.
                cur.execute(f"CREATE TABLE {stage_table(self.date, 0)} ENGINE={load().stage_engine} "
                            f"AS SELECT {', '.join(COLUMNS)} FROM {TABLE} LIMIT 0")
            self._status("staging and upserting the curated rows")
            texts = (to_load_data_text(batch)
                     for batch in curated_batches(self.s3_url("curated"), load().batch_rows))
            stager = _Stager(self.date, texts, wine().work_dir or None, self._fifo_prefix())
            metrics = self._upsert(conn, stager, expected)
            self._drop_stages(conn)
        finally:
            conn.close()
        seconds = time.monotonic() - started
        metrics.update(seconds=round(seconds, 3), rows_per_s=round(metrics["staged"] / seconds, 1) if seconds else 0.0)
        # The accounting of DATA_CONTRACT.md section 5 is part of the load result.
        metrics["sources"] = {row["source_name"]: {k: v for k, v in row.items() if k != "source_name"}
                              for row in counts}
        self.metrics = metrics
        log.info("loaded batch %s into %s: %d staged in %d chunk(s) (%.1f MB of LOAD DATA text), %d inserted, "
                 "%d updated, %d unchanged in %.1fs (%.0f rows/s)", self.date, TABLE, metrics["staged"],
                 metrics["chunks"], stager.bytes / 1e6, metrics["inserted"], metrics["updated"], metrics["unchanged"],
                 seconds, metrics["rows_per_s"])

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
            for name, date in _stage_tables(cur):
                if date != self.date and LoadWine(date=date).output().exists():
                    log.info("dropping %s, left behind by the committed load of %s", name, date)
                    cur.execute(f"DROP TABLE IF EXISTS {name}")

    def _fifo_prefix(self) -> str:
        return f"winepipe-load-{self.date:%Y%m%d}-"

    def _remove_fifo_dirs(self) -> None:
        """Removes FIFO directories of this batch left by a killed load (the batch lock is held: none is live)."""
        for path in Path(wine().work_dir or tempfile.gettempdir()).glob(self._fifo_prefix() + "*"):
            log.info("removing %s, left behind by a killed load", path)
            shutil.rmtree(path, ignore_errors=True)

    def _drop_stages(self, conn: pymysql.connections.Connection) -> None:
        """Drops this batch's staging tables."""
        with conn.cursor() as cur:
            names = [name for name, _ in _stage_tables(cur, self.date)]
            if names:
                cur.execute(f"DROP TABLE IF EXISTS {', '.join(names)}")

    def _upsert(self, conn: pymysql.connections.Connection, stager: _Stager, expected: int) -> dict:
        """Upserts each chunk as the stager hands it over, checks the count and writes the marker, all in one
        transaction; returns the row counts."""
        with conn.cursor() as cur:
            # Each statement sees the chunks the stager committed since the transaction began.
            cur.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        conn.begin()
        stager.start()
        try:
            staged = existing = affected = 0
            with conn.cursor() as cur:
                while (table := stager.ready.get()) is not None:
                    if not staged:
                        _test_pause("staged")
                    cur.execute(f"SELECT COUNT(*) FROM {table}")
                    staged += cur.fetchone()[0]
                    cur.execute(f"SELECT COUNT(*) FROM {table} s JOIN {TABLE} t ON t.review_id = s.review_id")
                    existing += cur.fetchone()[0]
                    # Affected rows (no CLIENT_FOUND_ROWS): 1 per inserted row, 2 per changed row, 0 per unchanged.
                    affected += cur.execute(_upsert_sql(table))
            stager.join()
            stager.raise_error()
            if staged != expected:
                raise LoadMismatch(f"batch {self.date}: staged {staged} rows but the curated count (sum of "
                                   f"kept in counts/) is {expected}; nothing was loaded")
            self.output().touch(conn)
            _test_pause("upserted")
            conn.commit()
        except BaseException:
            with contextlib.suppress(pymysql.err.Error):
                conn.rollback()
            stager.stop.set()
            stager.join()
            raise
        inserted = staged - existing
        updated = (affected - inserted) // 2
        return {"staged": staged, "chunks": stager.chunks, "inserted": inserted, "updated": updated,
                "unchanged": existing - updated}


class _Stager(threading.Thread):
    """Bulk-loads the chunks of a batch, each into a staging table of its own, on a connection of its own.

    Each staged table's name goes to ``ready`` once it is committed, then None when there are no more (or after
    an error, kept for ``raise_error``). The first chunk's table exists already; the others are created like it.
    """

    def __init__(self, date: datetime.date, texts: Iterable[memoryview], work_dir: str | None,
                 fifo_prefix: str) -> None:
        super().__init__(name="load-stager", daemon=True)
        self.date, self.texts, self.work_dir, self.fifo_prefix = date, texts, work_dir, fifo_prefix
        self.ready: queue.Queue[str | None] = queue.Queue()
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.bytes = 0
        self.chunks = 0

    def run(self) -> None:
        conn = None
        try:
            conn = mysql.connect(local_infile=True, autocommit=True)
            for text in self._texts():
                table = stage_table(self.date, self.chunks)
                with conn.cursor() as cur:
                    if self.chunks:
                        cur.execute(f"CREATE TABLE {table} LIKE {stage_table(self.date, 0)}")
                with load_data_fifo([text], self.work_dir, self.fifo_prefix) as writer, conn.cursor() as cur:
                    with conn.offering(writer.path):
                        cur.execute(*_load_data_sql(table, writer.path))
                    # SELECT @@warning_count does not reset the warnings, so SHOW WARNINGS still lists them.
                    cur.execute("SELECT @@warning_count")
                    warnings = cur.fetchone()[0]
                    if warnings:
                        cur.execute("SHOW WARNINGS LIMIT 5")
                        shown = "; ".join(f"{level} {code}: {message}" for level, code, message in cur.fetchall())
                        raise LoadWarnings(f"batch {self.date}: LOAD DATA into {table} gave {warnings} "
                                           f"warning(s), so some values would not round-trip exactly: {shown}")
                self.bytes += writer.bytes
                self.chunks += 1
                self.ready.put(table)
        except BaseException as exc:  # noqa: BLE001 - handed over to the upserting thread
            self.error = exc
        finally:
            self.ready.put(None)
            if conn is not None:
                conn.close()

    def _texts(self) -> Iterator[memoryview]:
        texts = iter(self.texts)
        # Stop is checked before the next chunk is made (it may mean downloading a whole Parquet part).
        while not self.stop.is_set():
            try:
                yield next(texts)
            except StopIteration:
                return
            except Exception as exc:
                raise RuntimeError(f"streaming the curated rows failed: {exc!r}") from exc

    def raise_error(self) -> None:
        """Raises the error the stager met, if any (call after ``join``)."""
        if self.error is not None:
            raise self.error
