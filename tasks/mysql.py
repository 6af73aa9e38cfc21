"""The MySQL adapter: PyMySQL connections from ``[mysql]``, schema migrations and the load marker target."""
from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import luigi
import pymysql
from pymysql.connections import MySQLResult
from pymysql.protocol import LoadLocalPacketWrapper

from tasks.config import mysql as mysql_config

log = logging.getLogger("winepipe.mysql")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MARKER_TABLE = "table_updates"
# MariaDB's user-level lock names are server-wide and at most 64 characters: one lock per database.
_MIGRATION_LOCK = "winepipe.migrate.{database}"


class LocalFileRefused(pymysql.err.OperationalError):
    """The server asked for a local file this client did not offer (``LocalInfileConnection``)."""


class _OfferedFilesOnly(MySQLResult):
    # PyMySQL itself sends whatever local file the server's LOAD DATA LOCAL request names.
    def _read_load_local_packet(self, first_packet) -> None:
        conn = self.connection
        requested = os.fsdecode(LoadLocalPacketWrapper(first_packet).filename)
        if conn.take_offer(requested):
            super()._read_load_local_packet(first_packet)
            return
        refused = f"the server asked for local file {requested!r}, which this client did not offer; refused, " \
                  f"nothing was sent"
        conn.write_packet(b"")  # an empty file: an honest server ends the statement, the connection stays in step
        try:
            answer = conn._read_packet()
        except pymysql.err.MySQLError as exc:
            if conn._sock is None:  # the connection is gone: that is the error to report
                raise
            raise LocalFileRefused(2000, refused) from exc
        if not answer.is_ok_packet():  # not what a server says to an empty file: nothing more can be trusted
            conn._force_close()
            raise LocalFileRefused(2000, f"{refused}; the server's answer was out of step, so the connection was "
                                         f"closed")
        raise LocalFileRefused(2000, refused)


class LocalInfileConnection(pymysql.connections.Connection):
    """A connection with ``LOAD DATA LOCAL INFILE`` on, which sends only the files offered to it.

    With local_infile on, PyMySQL answers a server's request for *any* local file, so a rogue or compromised
    server could read what this process can (keys, the config). Here the server gets a file only when it is
    offered (``offering``), once per offer; a request for another is refused with ``LocalFileRefused``. Relies on
    PyMySQL's ``_read_query_result``, which every result passes through, checked for the pinned version by
    tests/test_load.py.
    """

    def __init__(self, *args, **kwargs) -> None:
        self.offered_files: set[str] = set()
        super().__init__(*args, local_infile=True, **kwargs)

    @contextlib.contextmanager
    def offering(self, path: str | os.PathLike[str]) -> Iterator[None]:
        """Lets the server read ``path`` once (one LOAD DATA LOCAL INFILE of it) inside the block."""
        path = os.fspath(path)
        self.offered_files.add(path)
        try:
            yield
        finally:
            self.offered_files.discard(path)

    def take_offer(self, path: str) -> bool:
        """Whether ``path`` is on offer; the offer is then used up."""
        if path not in self.offered_files:
            return False
        self.offered_files.discard(path)
        return True

    def _read_query_result(self, unbuffered: bool = False) -> int:
        # PyMySQL's own, with the result class that checks the requested file.
        self._result = None
        result = _OfferedFilesOnly(self)
        if unbuffered:
            result.init_unbuffered_query()
        else:
            result.read()
        self._result = result
        if result.server_status is not None:
            self.server_status = result.server_status
        return result.affected_rows

    def show_warnings(self) -> tuple:
        # PyMySQL's own reads its result past _read_query_result; a cursor's goes through it.
        with self.cursor() as cur:
            cur.execute("SHOW WARNINGS")
            return cur.fetchall()


def connect(*, local_infile: bool = False, autocommit: bool = True,
            database: str | None = None) -> pymysql.connections.Connection:
    """A connection to the configured database; ``local_infile`` only for the loader's own connection, which is
    then a ``LocalInfileConnection`` (it sends only the files offered to it)."""
    cfg = mysql_config()
    ssl = None
    if cfg.ssl_ca:
        ssl = {"ca": cfg.ssl_ca, "check_hostname": cfg.ssl_verify_identity}
        if cfg.ssl_cert:
            ssl.update(cert=cfg.ssl_cert, key=cfg.ssl_key or None)
    options = dict(host=cfg.host, port=cfg.port, user=cfg.user, password=cfg.resolved_password(),
                   database=database or cfg.database, charset="utf8mb4", autocommit=autocommit, ssl=ssl,
                   connect_timeout=cfg.connect_timeout)
    return LocalInfileConnection(**options) if local_infile else pymysql.connect(**options)


def _statements(sql: str) -> list[str]:
    sql = re.sub(r"^\s*--.*$", "", sql, flags=re.MULTILINE)
    return [s.strip() for s in sql.split(";") if s.strip()]


def migration_files() -> list[Path]:
    """The numbered migrations (``NNNN_name.sql``), in the order they apply."""
    return sorted(MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.sql"))


def migrate(conn: pymysql.connections.Connection | None = None) -> list[str]:
    """Applies the numbered migrations not yet in ``schema_migrations``; returns the ones applied.

    A named lock (GET_LOCK, per database) serialises concurrent callers, and each caller re-reads
    ``schema_migrations`` once it holds the lock, so every migration is applied exactly once. DDL commits
    implicitly, so a crash between a migration's statements and its ``schema_migrations`` row re-runs it:
    migrations must therefore be idempotent (``IF NOT EXISTS``, ``IF EXISTS``).
    """
    own = conn is None
    conn = conn or connect()
    applied_now: list[str] = []
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT DATABASE()")
            lock = _MIGRATION_LOCK.format(database=cur.fetchone()[0])[:64]
            # 1 = obtained, 0 = timed out, NULL = error; the lock also ends with the connection.
            cur.execute("SELECT GET_LOCK(%s, %s)", (lock, mysql_config().migration_lock_timeout))
            if cur.fetchone()[0] != 1:
                raise RuntimeError(f"timed out waiting for the schema migration lock {lock!r}")
            try:
                cur.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                            " version VARCHAR(128) NOT NULL PRIMARY KEY,"
                            " applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP"
                            ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
                cur.execute("SELECT version FROM schema_migrations")
                done = {row[0] for row in cur.fetchall()}
                for path in migration_files():
                    if path.stem in done:
                        continue
                    for statement in _statements(path.read_text(encoding="utf-8")):
                        cur.execute(statement)
                    cur.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (path.stem,))
                    conn.commit()
                    applied_now.append(path.stem)
                    log.info("applied schema migration %s", path.stem)
            finally:
                if conn.open:
                    cur.execute("SELECT RELEASE_LOCK(%s)", (lock,))
    finally:
        if own:
            conn.close()
    return applied_now


class MySqlMarkerTarget(luigi.Target):
    """A row in ``table_updates`` (like luigi.contrib.mysqldb.MySqlTarget, on PyMySQL) meaning "loaded".

    Keyed by both ``update_id`` and ``target_table``. ``touch(conn)`` writes the row on the caller's
    connection without committing, so the marker and the data it stands for commit in one transaction.
    """

    def __init__(self, update_id: str, target_table: str) -> None:
        self.update_id = update_id
        self.target_table = target_table

    def exists(self) -> bool:
        conn = connect()
        try:
            with conn.cursor() as cur:
                try:
                    cur.execute(f"SELECT 1 FROM {MARKER_TABLE} WHERE update_id = %s AND target_table = %s",
                                (self.update_id, self.target_table))
                except pymysql.err.ProgrammingError as exc:
                    if exc.args[0] == 1146:  # the schema is not there yet: nothing was ever loaded
                        return False
                    raise
                return cur.fetchone() is not None
        finally:
            conn.close()

    def touch(self, conn: pymysql.connections.Connection) -> None:
        """Writes the marker row in the caller's open transaction (a forced re-run refreshes its time)."""
        with conn.cursor() as cur:
            cur.execute(f"INSERT INTO {MARKER_TABLE} (update_id, target_table) VALUES (%s, %s) "
                        f"ON DUPLICATE KEY UPDATE inserted = CURRENT_TIMESTAMP",
                        (self.update_id, self.target_table))
