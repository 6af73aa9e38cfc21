"""The MySQL adapter: PyMySQL connections from ``[mysql]``, schema migrations and the load marker target."""
from __future__ import annotations

import logging
import re
from pathlib import Path

import luigi
import pymysql

from tasks.config import mysql as mysql_config

log = logging.getLogger("winepipe.mysql")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MARKER_TABLE = "table_updates"
_MIGRATION_LOCK = "winepipe.schema_migrations"


def connect(*, local_infile: bool = False, autocommit: bool = True) -> pymysql.connections.Connection:
    """A connection to the configured database; ``local_infile`` only for the loader's own connection."""
    cfg = mysql_config()
    ssl = {k: v for k, v in (("ca", cfg.ssl_ca), ("cert", cfg.ssl_cert), ("key", cfg.ssl_key)) if v} or None
    return pymysql.connect(
        host=cfg.host, port=cfg.port, user=cfg.user, password=cfg.password, database=cfg.database,
        charset="utf8mb4", autocommit=autocommit, local_infile=local_infile, ssl=ssl,
        connect_timeout=cfg.connect_timeout,
    )


def _statements(sql: str) -> list[str]:
    sql = re.sub(r"^\s*--.*$", "", sql, flags=re.MULTILINE)
    return [s.strip() for s in sql.split(";") if s.strip()]


def migrate(conn: pymysql.connections.Connection | None = None) -> list[str]:
    """Applies the numbered migrations not yet in ``schema_migrations``; returns the ones applied.

    A named lock serialises concurrent loads, so two processes never apply the same migration twice.
    """
    own = conn is None
    conn = conn or connect()
    applied_now: list[str] = []
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT GET_LOCK(%s, 120)", (_MIGRATION_LOCK,))
            if cur.fetchone()[0] != 1:
                raise RuntimeError("timed out waiting for the schema migration lock")
            try:
                cur.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                            " version VARCHAR(128) NOT NULL PRIMARY KEY,"
                            " applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP"
                            ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
                cur.execute("SELECT version FROM schema_migrations")
                done = {row[0] for row in cur.fetchall()}
                for path in sorted(MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.sql")):
                    if path.stem in done:
                        continue
                    for statement in _statements(path.read_text()):
                        cur.execute(statement)
                    cur.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (path.stem,))
                    conn.commit()
                    applied_now.append(path.stem)
                    log.info("applied schema migration %s", path.stem)
            finally:
                cur.execute("SELECT RELEASE_LOCK(%s)", (_MIGRATION_LOCK,))
    finally:
        if own:
            conn.close()
    return applied_now


class MySqlMarkerTarget(luigi.Target):
    """A row in ``table_updates`` (like luigi.contrib.mysqldb.MySqlTarget, on PyMySQL) meaning "loaded".

    ``touch(conn)`` inserts the row on the caller's connection without committing, so the marker and the
    data it stands for commit in one transaction.
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
        with conn.cursor() as cur:
            cur.execute(f"INSERT INTO {MARKER_TABLE} (update_id, target_table) VALUES (%s, %s)",
                        (self.update_id, self.target_table))
