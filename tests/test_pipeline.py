"""The whole pipeline, end to end, on the real services: ``luigi --module tasks LoadWine``."""
from __future__ import annotations

import hashlib
import re

import pytest

from tasks import LoadWine, mysql
from tasks.s3 import s3_client
from tests.conftest import run_luigi

pytestmark = pytest.mark.integration

SCALE = 0.002  # ~800 records over the three files: every code path, a few seconds of Spark


@pytest.fixture(scope="module")
def loaded_batch(ns):
    """One generated batch, run through the pipeline once."""
    import datetime

    from tasks.sample import generate

    date = datetime.date(2026, 11, 24)
    manifest = generate(ns.sftp_dir / str(date), date, SCALE, 7)
    first = run_luigi(ns, "LoadWine", "--date", str(date), "--workers", "3")
    return date, manifest, first


def test_the_first_run_succeeds_and_runs_every_stage(loaded_batch):
    _, _, first = loaded_batch
    assert first.returncode == 0, first.stderr[-4000:]
    assert "5 ran successfully" in first.stderr
    for task in ("ExtractWineFile", "TransformWine", "LoadWine"):
        assert task in first.stderr


def test_raw_objects_are_the_remote_files_byte_for_byte(ns, loaded_batch):
    date, _, _ = loaded_batch
    client = s3_client()
    for path in sorted((ns.sftp_dir / str(date)).iterdir()):
        body = client.get_object(Bucket=ns.bucket, Key=f"raw/{date}/{path.name}")["Body"].read()
        assert hashlib.sha256(body).hexdigest() == hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_record_is_loaded_deduplicated_or_rejected(ns, loaded_batch):
    from tasks.transform import read_counts

    date, manifest, _ = loaded_batch
    counts = read_counts(f"s3://{ns.bucket}/counts/{date}/")
    assert [c["source_name"] for c in counts] == ["reviews_130k_csv", "reviews_130k_json", "reviews_150k_csv"]
    for row in counts:
        assert row["records_read"] == row["rejected"] + row["duplicates"] + row["kept"]
        assert row["rejected"] > 0 and row["duplicates"] > 0
    conn = mysql.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*), COUNT(DISTINCT review_id) FROM wine_reviews WHERE batch_date = %s", (date,))
        rows, distinct = cur.fetchone()
        cur.execute("SELECT COUNT(*) FROM table_updates WHERE update_id = %s AND target_table = 'wine_reviews'",
                    (LoadWine(date=date).task_id,))
        markers = cur.fetchone()[0]
    conn.close()
    assert rows == distinct == sum(c["kept"] for c in counts)
    assert markers == 1


def test_the_counts_are_exactly_what_the_generator_injected(ns, loaded_batch):
    """The generator knows, record by record, what the contract makes of its data: the pipeline must agree."""
    from tasks.transform import read_counts

    date, manifest, _ = loaded_batch
    expected = {f["source_name"]: f for f in manifest["files"].values()}
    for row in read_counts(f"s3://{ns.bucket}/counts/{date}/"):
        want = expected[row["source_name"]]
        assert row["records_read"] == want["records"]
        assert {k: v for k, v in row["rejected_by_reason"].items() if v} == {
            k: v for k, v in want["rejected"].items() if v}
        assert (row["kept"], row["duplicates"]) == (want["kept"], want["duplicates"])
    assert sum(f["kept"] for f in expected.values()) == manifest["expected_curated"]


def test_a_second_run_of_the_same_date_does_nothing(ns, loaded_batch):
    date, _, _ = loaded_batch
    client = s3_client()
    before = {o["Key"]: o["ETag"] for o in client.list_objects_v2(Bucket=ns.bucket)["Contents"]}
    again = run_luigi(ns, "LoadWine", "--date", str(date))
    assert again.returncode == 0, again.stderr[-3000:]
    assert "1 complete ones were encountered" in again.stderr
    assert "ran successfully" not in again.stderr
    after = {o["Key"]: o["ETag"] for o in client.list_objects_v2(Bucket=ns.bucket)["Contents"]}
    assert after == before


def test_no_scratch_space_is_left_behind(ns, loaded_batch):
    assert list(ns.work_dir.iterdir()) == []


def test_with_the_spark_ui_on_the_task_shows_its_tracking_url(ns, loaded_batch, tmp_path):
    import luigi.configuration

    from tasks.transform import TransformWine

    date, _, _ = loaded_batch
    override = tmp_path / "ui-on.cfg"
    override.write_text("[spark]\nconf = spark.ui.enabled=true|spark.sql.session.timeZone=UTC\n")
    parser = luigi.configuration.get_config()
    parser.add_config_path(str(override))
    try:
        task = TransformWine(date=date)
        # What the task reports, collected through a file (the scanner is a thread of the task's process).
        reported = tmp_path / "tracking-urls"
        task.set_tracking_url = lambda url: reported.open("a").write(url + "\n")
        task.set_status_message = lambda message: None
        task.run()  # rewrites the batch's curated output with the same content
    finally:
        parser._config_paths.remove(str(override))
        parser.reload()
    urls = reported.read_text().split()
    assert len(urls) == 1 and re.fullmatch(r"http://[^:/]+:40[4-9]\d", urls[0]), urls
