"""LoadWine on the real MariaDB and S3 of the local stack, without Spark.

Each test writes a batch's curated Parquet, counts and ``_SUCCESS`` flag into the session's bucket itself,
so TransformWine counts as complete and LoadWine runs alone. Tests share the session's ``wine_reviews``
table; review ids are unique per test (they embed the batch date) and assertions look at the test's rows
or compare whole-table snapshots taken in the same test.
"""
from __future__ import annotations

import datetime
import decimal
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import luigi
import pyarrow as pa
import pyarrow.parquet as pq
import pymysql
import pytest

from tasks import mysql
from tasks.config import mysql as mysql_config
from tasks.load import COLUMNS, TABLE, LoadMismatch, LoadWine, stage_table, stage_tables_like
from tasks.s3 import s3_client
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

CURATED_SCHEMA = pa.schema([
    ("review_id", pa.string()), ("country", pa.string()), ("description", pa.string()),
    ("designation", pa.string()), ("points", pa.int32()), ("price", pa.decimal128(10, 2)),
    ("province", pa.string()), ("region_1", pa.string()), ("region_2", pa.string()),
    ("taster_name", pa.string()), ("taster_twitter_handle", pa.string()), ("title", pa.string()),
    ("variety", pa.string()), ("winery", pa.string()), ("vintage", pa.int32()),
    ("num_wines_of_variety", pa.int32()), ("source_name", pa.string()), ("source_row", pa.int64()),
    ("batch_date", pa.date32()),
])
assert tuple(CURATED_SCHEMA.names) == COLUMNS


# -- helpers --------------------------------------------------------------------------------------
def review(date: datetime.date, n: int, **overrides) -> dict:
    """A realistic curated record; ``review_id`` is unique per (date, n) unless overridden."""
    winery, variety = f"Winery {n % 7}", ("Pinot Noir", "Riesling", "Malbec")[n % 3]
    description = f"Ripe black cherry and a touch of oak, review {n}. " * 4
    row = {
        "review_id": hashlib.sha1(f"{date}\x1f{n}".encode()).hexdigest(),
        "country": "US", "description": description.strip(), "designation": "Reserve", "points": 80 + n % 21,
        "price": decimal.Decimal(f"{10 + n % 90}.50"), "province": "Oregon", "region_1": "Willamette Valley",
        "region_2": None, "taster_name": "Paul Gregutt", "taster_twitter_handle": "@paulgwine\u00a0",
        "title": f"{winery} 2014 Reserve {variety} (Willamette Valley)", "variety": variety, "winery": winery,
        "vintage": 2014, "num_wines_of_variety": 3, "source_name": "reviews_130k_csv", "source_row": n + 1,
        "batch_date": date,
    }
    row.update(overrides)
    return row


def write_batch(ns, date: datetime.date, rows: list[dict], kept: int | None = None, parts: int = 2) -> None:
    """Curated Parquet (``parts`` part files), counts and the ``_SUCCESS`` flag of batch ``date``."""
    client = s3_client()
    day = f"{date:%Y-%m-%d}"
    for zone in ("curated", "counts"):  # a test may write the same batch twice
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=ns.bucket, Prefix=f"{zone}/{day}/"):
            for obj in page.get("Contents", []):
                client.delete_object(Bucket=ns.bucket, Key=obj["Key"])
    table = pa.Table.from_pylist(rows, schema=CURATED_SCHEMA)
    step = max(1, -(-len(rows) // parts))
    for i, start in enumerate(range(0, max(len(rows), 1), step)):
        sink = pa.BufferOutputStream()
        pq.write_table(table.slice(start, step), sink)
        client.put_object(Bucket=ns.bucket, Key=f"curated/{day}/part-{i:05d}-test.snappy.parquet",
                          Body=sink.getvalue().to_pybytes())
    counts = {"source_name": "reviews_130k_csv", "records_read": len(rows), "rejected": 0,
              "kept": len(rows) if kept is None else kept, "duplicates": 0, "rejected_by_reason": {}}
    client.put_object(Bucket=ns.bucket, Key=f"counts/{day}/part-00000-test.json",
                      Body=(json.dumps(counts) + "\n").encode())
    client.put_object(Bucket=ns.bucket, Key=f"curated/{day}/_SUCCESS", Body=b"")


def build(date: datetime.date) -> luigi.execution_summary.LuigiRunResult:
    """``luigi.build([LoadWine(date)])`` in-process with the local scheduler."""
    return luigi.build([LoadWine(date=date)], local_scheduler=True, detailed_summary=True)


def snapshot(with_times: bool = True) -> dict[str, tuple]:
    """The whole ``wine_reviews`` table: review_id -> the row (optionally with its timestamps)."""
    cols = ", ".join(COLUMNS + (("first_loaded_at", "updated_at") if with_times else ()))
    conn = mysql.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT {cols} FROM {TABLE}")
            return {row[0]: row for row in cur.fetchall()}
    finally:
        conn.close()


def as_table_rows(rows: list[dict]) -> dict[str, tuple]:
    """Records as ``snapshot(with_times=False)`` returns them."""
    return {r["review_id"]: tuple(r[c] for c in COLUMNS) for r in rows}


def query(sql: str, args: tuple = ()) -> list[tuple]:
    conn = mysql.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())
    finally:
        conn.close()


def marker_exists(date: datetime.date) -> bool:
    return LoadWine(date=date).output().exists()


def stage_exists(date: datetime.date) -> bool:
    """Whether any staging table of batch ``date`` exists."""
    return bool(query("SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() "
                      "AND table_name LIKE %s", (stage_tables_like(date),)))


# -- the marker target ----------------------------------------------------------------------------

def test_importing_the_tasks_leaves_pyarrow_and_numpy_for_the_load():
    # `luigi --module tasks` imports every task module; Arrow and NumPy cost ~0.15 s of each start-up.
    probe = "import sys, tasks; print(sorted(m for m in ('pyarrow', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]"

def test_marker_target_is_keyed_by_update_id_and_table_and_closes_its_connections(ns, batch_date, monkeypatch):
    opened: list[pymysql.connections.Connection] = []
    real_connect = mysql.connect

    def tracking_connect(**kwargs):
        conn = real_connect(**kwargs)
        opened.append(conn)
        return conn

    write_batch(ns, batch_date, [review(batch_date, n) for n in range(3)])
    target = LoadWine(date=batch_date).output()
    monkeypatch.setattr(mysql, "connect", tracking_connect)
    assert not target.exists()
    assert opened and not any(c.open for c in opened)
    monkeypatch.undo()

    assert build(batch_date).scheduling_succeeded
    assert target.exists()
    assert not mysql.MySqlMarkerTarget(target.update_id, "other_table").exists()
    assert not mysql.MySqlMarkerTarget("LoadWine(date=1999-01-01)", TABLE).exists()
    assert query("SELECT target_table FROM table_updates WHERE update_id = %s", (target.update_id,)) == [(TABLE,)]


def test_local_infile_is_only_on_the_loaders_connection():
    plain, loader = mysql.connect(), mysql.connect(local_infile=True)
    try:
        assert not plain.client_flag & pymysql.constants.CLIENT.LOCAL_FILES
        assert loader.client_flag & pymysql.constants.CLIENT.LOCAL_FILES
    finally:
        plain.close()
        loader.close()


def test_the_loaders_connection_sends_only_the_file_it_offers(tmp_path):
    # A server's LOAD DATA LOCAL request may name any file; the loader's connection sends only the one it offers.
    # Here the statement names another file, which makes the real server ask for that one.
    offered, other = tmp_path / "offered.tsv", tmp_path / "other.tsv"
    offered.write_text("1\n2\n")
    other.write_text("41\n42\n")
    table = f"probe_local_infile_{os.getpid()}"
    conn = mysql.connect(local_infile=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE TABLE {table} (n INT)")
            with conn.offering(offered):
                refused = f"the server asked for local file '{other}', which this client did not offer"
                with pytest.raises(mysql.LocalFileRefused, match=re.escape(refused)):
                    cur.execute(f"LOAD DATA LOCAL INFILE %s INTO TABLE {table}", (str(other),))
                cur.execute(f"SELECT COUNT(*) FROM {table}")  # the connection is still in step, nothing was loaded
                assert cur.fetchone() == (0,)
                cur.execute(f"LOAD DATA LOCAL INFILE %s INTO TABLE {table}", (str(offered),))
                with pytest.raises(mysql.LocalFileRefused):  # an offer is good for one read
                    cur.execute(f"LOAD DATA LOCAL INFILE %s INTO TABLE {table}", (str(offered),))
            cur.execute(f"SELECT n FROM {table} ORDER BY n")
            assert cur.fetchall() == ((1,), (2,))
            with pytest.raises(mysql.LocalFileRefused):  # offered only inside the block
                with conn.offering(offered):
                    pass
                cur.execute(f"LOAD DATA LOCAL INFILE %s INTO TABLE {table}", (str(offered),))
            cur.execute(f"SELECT n FROM {table} WHERE n > 'x'")  # a warning: the guarded SHOW WARNINGS reads it
            assert [row[1] for row in conn.show_warnings()] == [1292]
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
        conn.close()


def test_password_env_wins_over_the_configured_password(monkeypatch):
    monkeypatch.setenv("WINEPIPE_MYSQL_PASSWORD", "certainly-wrong")
    assert mysql_config().resolved_password() == "certainly-wrong"
    with pytest.raises(pymysql.err.OperationalError) as failure:
        mysql.connect()
    assert failure.value.args[0] == 1045  # access denied: the environment's password was used
    monkeypatch.setenv("WINEPIPE_MYSQL_PASSWORD", "")
    mysql.connect().close()  # empty means unset: the configured password applies


# -- migrations -----------------------------------------------------------------------------------
def test_a_migration_applied_twice_is_a_no_op(ns):
    mysql.migrate()
    before = query("SELECT version, applied_at FROM schema_migrations ORDER BY version")
    create = query(f"SHOW CREATE TABLE {TABLE}")
    assert mysql.migrate() == []
    # Even a migration re-run by hand (a crash before its schema_migrations row) changes nothing.
    conn = mysql.connect()
    try:
        with conn.cursor() as cur:
            for path in mysql.migration_files():
                for statement in mysql._statements(path.read_text()):  # noqa: SLF001
                    cur.execute(statement)
    finally:
        conn.close()
    assert query("SELECT version, applied_at FROM schema_migrations ORDER BY version") == before
    assert query(f"SHOW CREATE TABLE {TABLE}") == create
    assert [v for v, _ in before] == [p.stem for p in mysql.migration_files()]


def test_concurrent_migrations_on_a_fresh_database_apply_each_migration_once(ns):
    fresh = f"{ns.database}_mig"
    admin = mysql.connect()
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{fresh}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    try:
        start = threading.Barrier(3)
        applied: list[list[str]] = []
        errors: list[BaseException] = []

        def migrate_once() -> None:
            conn = mysql.connect(database=fresh)
            try:
                start.wait()
                applied.append(mysql.migrate(conn))
            except BaseException as exc:  # noqa: BLE001 - reported by the test thread
                errors.append(exc)
            finally:
                conn.close()

        threads = [threading.Thread(target=migrate_once) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors
        versions = [p.stem for p in mysql.migration_files()]
        assert sorted(v for run in applied for v in run) == versions  # each exactly once, in one thread
        with admin.cursor() as cur:
            cur.execute(f"SELECT version FROM `{fresh}`.schema_migrations ORDER BY version")
            assert [r[0] for r in cur.fetchall()] == versions
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{fresh}`")
        admin.close()


# -- the load -------------------------------------------------------------------------------------
def test_text_survives_the_round_trip_exactly(ns, batch_date):
    nasty = [
        review(batch_date, 0, description="Kerin O’Keefe: Vulkà Bianco, Gewürztraminer 🍷 and 🍇🍷"),
        review(batch_date, 1, description="tab\there, newline\nthere, CR\rhere, CRLF\r\nend",
               designation="back\\slash \\t not a tab, \\\\ two", title="\\N", region_1="NULL"),
        review(batch_date, 2, designation="", region_2=None, country=None, price=None, vintage=None,
               taster_name="", taster_twitter_handle=None, region_1="\\"),
        review(batch_date, 3, description="  leading and trailing spaces  ", designation="trailing tab\t",
               title="ends with backslash\\", province="nul\x00byte and ctrl-z \x1a", winery="Anne Krebiehl\u00a0MW"),
        review(batch_date, 4, description="\\N", designation="\\\\N", region_2="N", title="\n", price=decimal.Decimal("0.01")),
    ]
    write_batch(ns, batch_date, nasty)
    assert build(batch_date).scheduling_succeeded
    stored = snapshot(with_times=False)
    for rid, row in as_table_rows(nasty).items():
        assert stored[rid] == row


def test_second_run_is_a_no_op_and_the_body_twice_converges(ns, batch_date, monkeypatch):
    rows = [review(batch_date, n) for n in range(20)]
    write_batch(ns, batch_date, rows)
    first = build(batch_date)
    assert first.scheduling_succeeded
    task = LoadWine(date=batch_date)
    assert task.metrics["inserted"] == 20 and task.metrics["staged"] == 20 and task.metrics["chunks"] == 2  # one per part
    assert set(task.metrics) == {"inserted", "updated", "unchanged", "staged", "chunks", "seconds", "rows_per_s",
                                 "sources"}
    assert sum(source["kept"] for source in task.metrics["sources"].values()) == 20
    after_first = snapshot()
    marker_time = query("SELECT inserted FROM table_updates WHERE update_id = %s", (task.task_id,))

    def must_not_run(self):
        raise AssertionError("LoadWine ran although its marker exists")

    monkeypatch.setattr(LoadWine, "run", must_not_run)
    assert build(batch_date).scheduling_succeeded
    monkeypatch.undo()
    assert snapshot() == after_first
    assert query("SELECT inserted FROM table_updates WHERE update_id = %s", (task.task_id,)) == marker_time

    # Without the marker the body runs again and converges to the same table, timestamps included.
    query("DELETE FROM table_updates WHERE update_id = %s", (task.task_id,))
    task.run()
    assert snapshot() == after_first
    assert task.metrics["inserted"] == 0 and task.metrics["updated"] == 0 and task.metrics["unchanged"] == 20
    assert marker_exists(batch_date) and not stage_exists(batch_date)


def test_two_batches_sharing_reviews_upsert_with_exact_counts(ns, batch_date, config):
    # Chunks of at most 4 rows: the second batch's two parts of 5 rows are staged and upserted as 4 + 1 + 4 + 1,
    # in one transaction.
    config("[load]\nbatch_rows = 4\n")
    first_date, second_date = batch_date, batch_date + datetime.timedelta(days=5000)
    first = [review(first_date, n) for n in range(10)]
    write_batch(ns, first_date, first)
    assert build(first_date).scheduling_succeeded
    ids = [r["review_id"] for r in first]
    # Age the rows, so "moved" is visible without sleeping through TIMESTAMP's one-second resolution.
    query(f"UPDATE {TABLE} SET first_loaded_at = first_loaded_at - INTERVAL 1 DAY, "
          f"updated_at = updated_at - INTERVAL 1 DAY WHERE review_id IN ({', '.join(['%s'] * 10)})", tuple(ids))
    aged = snapshot()

    second = [dict(r, batch_date=second_date) for r in first[3:]]  # 3..9 delivered again
    second[0]["price"] = decimal.Decimal("99.99")  # 3 changed
    second[1]["designation"] = "RESERVE"  # 4 changed in case only: still a change
    second += [review(second_date, n) for n in range(100, 103)]  # 3 new
    write_batch(ns, second_date, second)
    assert build(second_date).scheduling_succeeded
    metrics = LoadWine(date=second_date).metrics
    assert (metrics["staged"], metrics["inserted"], metrics["updated"], metrics["unchanged"]) == (10, 3, 2, 5)
    assert metrics["chunks"] == 4

    stored = snapshot()
    for rid in ids:
        assert stored[rid][-2] == aged[rid][-2]  # first_loaded_at never moves
    for rid in ids[3:5]:
        assert stored[rid][-1] > aged[rid][-1]
        assert stored[rid][COLUMNS.index("batch_date")] == second_date
    for rid in ids[:3] + ids[5:]:
        assert stored[rid] == aged[rid]  # untouched, batch_date and updated_at included
    expected = as_table_rows(first[:3] + second)
    for rid in ids[5:]:  # unchanged: the stored row keeps the batch that last changed it
        expected[rid] = expected[rid][:-1] + (first_date,)
    assert {rid: row[:-2] for rid, row in stored.items() if rid in expected} == expected


def test_an_older_batch_loaded_late_never_replaces_a_newer_batchs_values(ns, batch_date):
    older_date, newer_date = batch_date, batch_date + datetime.timedelta(days=4000)
    newer = [review(newer_date, n, price=decimal.Decimal("22.00")) for n in range(4)]
    write_batch(ns, newer_date, newer)
    assert build(newer_date).scheduling_succeeded
    before = snapshot()
    # The older batch's file arrived late: the same reviews with other prices, plus one new review.
    older = [dict(r, batch_date=older_date, price=decimal.Decimal("20.00")) for r in newer]
    older.append(review(older_date, 200))
    write_batch(ns, older_date, older)
    assert build(older_date).scheduling_succeeded
    metrics = LoadWine(date=older_date).metrics
    assert (metrics["inserted"], metrics["updated"], metrics["unchanged"]) == (1, 0, 4)
    after = snapshot()
    for r in newer:
        assert after[r["review_id"]] == before[r["review_id"]]
    assert after[older[-1]["review_id"]][COLUMNS.index("batch_date")] == older_date


def test_an_error_before_the_commit_changes_nothing_and_the_rerun_succeeds(ns, batch_date, monkeypatch):
    rows = [review(batch_date, n) for n in range(15)]
    write_batch(ns, batch_date, rows)
    before = snapshot()
    real_touch = mysql.MySqlMarkerTarget.touch

    def touch_then_fail(self, conn):
        real_touch(self, conn)  # the upsert and the marker are in; the commit is next
        raise RuntimeError("injected failure before the commit")

    monkeypatch.setattr(mysql.MySqlMarkerTarget, "touch", touch_then_fail)
    with pytest.raises(RuntimeError, match="injected failure"):
        LoadWine(date=batch_date).run()
    monkeypatch.undo()
    assert snapshot() == before
    assert not marker_exists(batch_date)

    assert build(batch_date).scheduling_succeeded
    assert marker_exists(batch_date) and not stage_exists(batch_date)
    assert {k: v for k, v in snapshot(with_times=False).items() if k not in before} == as_table_rows(rows)


def test_a_count_mismatch_aborts_with_a_clear_error_and_commits_nothing(ns, batch_date):
    write_batch(ns, batch_date, [review(batch_date, n) for n in range(3)], kept=4)
    before = snapshot()
    with pytest.raises(LoadMismatch, match=r"staged 3 rows but the curated count .* is 4; nothing was loaded"):
        LoadWine(date=batch_date).run()
    assert snapshot() == before
    assert not marker_exists(batch_date)


@pytest.mark.parametrize("pause_at", ["staged", "upserted"])
def test_a_load_killed_with_sigkill_then_rerun_gives_the_clean_table(ns, batch_date, tmp_path, pause_at):
    rows = [review(batch_date, n) for n in range(500)]
    write_batch(ns, batch_date, rows, parts=3)
    before = snapshot()
    flag = tmp_path / "paused"
    # The luigi script's sys.path does not include the project (run_luigi in conftest has the same gap).
    pythonpath = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = ns.env(PYTHONPATH=pythonpath, WINEPIPE_LOAD_PAUSE_AT=pause_at, WINEPIPE_LOAD_PAUSE_FILE=str(flag),
                 WINEPIPE_LOAD_PAUSE_SECONDS="60")
    cmd = [str(Path(sys.executable).parent / "luigi"), "--module", "tasks", "LoadWine",
           "--date", str(batch_date), "--local-scheduler"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not flag.exists():
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the load never reached its pause point"
            time.sleep(0.05)
        assert stage_exists(batch_date)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    time.sleep(0.5)  # the server notices the closed socket and rolls the transaction back
    assert snapshot() == before
    assert not marker_exists(batch_date)

    # A FIFO directory the killed stager was using, as if the kill came in the middle of a chunk.
    (ns.work_dir / f"winepipe-load-{batch_date:%Y%m%d}-killed").mkdir()
    rerun = subprocess.run(cmd, cwd=ROOT, env=ns.env(PYTHONPATH=pythonpath), capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert marker_exists(batch_date) and not stage_exists(batch_date)
    assert not list(ns.work_dir.glob(f"winepipe-load-{batch_date:%Y%m%d}-*"))
    after = snapshot(with_times=False)
    assert {k: v for k, v in after.items() if k not in before} == as_table_rows(rows)
    assert {k: v[:-2] for k, v in before.items()} == {k: v for k, v in after.items() if k in before}


def test_a_staging_table_left_after_a_committed_load_is_dropped_by_the_next_load(ns, batch_date):
    loaded, later = batch_date, batch_date + datetime.timedelta(days=7000)
    write_batch(ns, loaded, [review(loaded, n) for n in range(2)])
    assert build(loaded).scheduling_succeeded
    # As if the process died between the commit and the DROP of the staging tables; the second name is the
    # form of the loads before chunks.
    query(f"CREATE TABLE {stage_table(loaded, 2)} (review_id CHAR(40))")
    query(f"CREATE TABLE stage_{TABLE}_{loaded:%Y%m%d} (review_id CHAR(40))")
    write_batch(ns, later, [review(later, n) for n in range(2)])
    assert build(later).scheduling_succeeded
    assert not stage_exists(loaded) and not stage_exists(later)


def test_a_failure_while_streaming_fails_the_load_instead_of_loading_part_of_it(ns, batch_date, monkeypatch):
    import tasks.load as load_module

    write_batch(ns, batch_date, [review(batch_date, n) for n in range(4)])
    real_text = load_module.to_load_data_text
    calls = []

    def fail_on_second_batch(batch):
        calls.append(1)
        if len(calls) == 2:  # the first part is already in the FIFO: the reader would see a clean EOF
            raise OSError("injected S3 read failure")
        return real_text(batch)

    monkeypatch.setattr(load_module, "to_load_data_text", fail_on_second_batch)
    before = snapshot()
    with pytest.raises(RuntimeError, match="streaming the curated rows failed"):
        LoadWine(date=batch_date).run()
    assert snapshot() == before and not marker_exists(batch_date)


def test_a_second_load_of_the_same_batch_at_the_same_time_is_refused(ns, batch_date):
    write_batch(ns, batch_date, [review(batch_date, n) for n in range(3)])
    holder = mysql.connect()  # stands in for a load of this batch started by another process
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT GET_LOCK(CONCAT('winepipe.load.', DATABASE(), '.', %s), 0)",
                        (f"{batch_date:%Y%m%d}",))
            assert cur.fetchone()[0] == 1
        with pytest.raises(RuntimeError, match=f"another load of batch {batch_date} is running"):
            LoadWine(date=batch_date).run()
        assert not marker_exists(batch_date) and not stage_exists(batch_date)
    finally:
        holder.close()
    assert build(batch_date).scheduling_succeeded
    assert marker_exists(batch_date)


def test_staging_table_names_map_back_to_their_batch():
    from tasks.load import batch_of_stage_table

    day = datetime.date(2026, 3, 2)
    assert batch_of_stage_table(stage_table(day, 0)) == day
    assert batch_of_stage_table(stage_table(day, 12)) == day
    assert batch_of_stage_table(f"stage_{TABLE}_20260302") == day  # before chunks
    for other in (f"stage_{TABLE}_2026032", f"stage_{TABLE}_20260302_x", f"stage_{TABLE}_20261302_1",
                  f"stage_{TABLE}_20260302_1_2", "wine_reviews", f"{TABLE}_20260302_1"):
        assert batch_of_stage_table(other) is None, other


def test_a_fifo_whose_reader_never_came_does_not_hang_the_load(tmp_path):
    from tasks.load import load_data_fifo

    # The statement fails before it opens the FIFO; many times, so that the writer thread sometimes has not
    # reached its open() yet when the clean-up runs.
    for _ in range(50):
        with pytest.raises(RuntimeError, match="statement failed"):
            with load_data_fifo([memoryview(b"x" * 200_000)], str(tmp_path)):
                raise RuntimeError("statement failed")
