"""TransformWine's spark-submit command line and its work directory (no Spark run here)."""
from __future__ import annotations

import datetime
import json
import socket
import sys
import threading
from pathlib import Path

import pytest
from luigi.contrib.external_program import ExternalProgramRunError
from luigi.contrib.spark import SparkSubmitTask

from tasks.transform import ROOT, TransformWine, transfer_config


def _command(task: TransformWine, work: Path) -> list[str]:
    task._work = work
    return task.spark_command() + task.app_command()


def test_local_mode_reads_and_writes_the_staged_work_dir(config):
    config("[spark]\nspark-submit = .venv/bin/spark-submit\nmaster = local[*]\ndriver-memory = 2g\n"
           "conf = spark.ui.enabled=false|spark.sql.session.timeZone=UTC\n"
           "[transform]\nio = local\nshuffle_partitions = 6\ncurated_files = 3\n[wine]\nbucket = bkt\n")
    work = Path("/scratch/w1")
    cmd = _command(TransformWine(date=datetime.date(2026, 11, 24)), work)
    assert cmd[:10] == [str(ROOT / ".venv/bin/spark-submit"), "--master", "local[*]", "--name", "winepipe-transform",
                        "--py-files", "/scratch/w1/spark.zip", "--conf", "spark.ui.enabled=false",
                        "--conf"]
    assert cmd[10:13] == ["spark.sql.session.timeZone=UTC", "--driver-memory", "2g"]
    assert cmd[13] == str(ROOT / "spark" / "job.py")
    args = cmd[14:]
    assert args[args.index("--batch-date") + 1] == "2026-11-24"
    assert args[args.index("--curated") + 1] == "/scratch/w1/out/curated"
    assert args[args.index("--rejects") + 1] == "/scratch/w1/out/rejects"
    assert args[args.index("--counts") + 1] == "/scratch/w1/out/counts"
    assert args[args.index("--shuffle-partitions") + 1] == "6"
    assert args[args.index("--curated-files") + 1] == "3"
    assert args[args.index("--csv-parts") + 1] == "0"
    assert args[args.index("--work-dir") + 1] == "/scratch/w1"
    sources = json.loads(args[args.index("--sources") + 1])
    assert [(s["name"], s["format"], s["precedence"], s["path"]) for s in sources] == [
        ("reviews_130k_csv", "csv", 3, "/scratch/w1/raw/winemag-data-130k-v2.csv"),
        ("reviews_130k_json", "json", 2, "/scratch/w1/raw/winemag-data-130k-v2.json"),
        ("reviews_150k_csv", "csv", 1, "/scratch/w1/raw/winemag-data_first150k.csv"),
    ]


def test_s3a_mode_on_a_cluster_reads_and_writes_s3a_directly(config):
    config("[spark]\nspark-submit = /opt/spark/bin/spark-submit\nmaster = yarn\ndeploy-mode = cluster\n"
           "executor-memory = 8g\nconf = spark.ui.enabled=true\n"
           "[transform]\nio = s3a\n[wine]\nbucket = lake\n")
    cmd = _command(TransformWine(date=datetime.date(2026, 1, 2)), Path("/scratch/w2"))
    assert cmd[:12] == ["/opt/spark/bin/spark-submit", "--master", "yarn", "--deploy-mode", "cluster",
                        "--name", "winepipe-transform", "--py-files", "/scratch/w2/spark.zip",
                        "--conf", "spark.ui.enabled=true", "--driver-memory"]
    assert "--executor-memory" in cmd and cmd[cmd.index("--executor-memory") + 1] == "8g"
    args = cmd[cmd.index(str(ROOT / "spark" / "job.py")) + 1:]
    assert args[args.index("--curated") + 1] == "s3a://lake/curated/2026-01-02/"
    assert args[args.index("--rejects") + 1] == "s3a://lake/rejects/2026-01-02/"
    assert args[args.index("--counts") + 1] == "s3a://lake/counts/2026-01-02/"
    paths = [s["path"] for s in json.loads(args[args.index("--sources") + 1])]
    assert paths == ["s3a://lake/raw/2026-01-02/winemag-data-130k-v2.csv",
                     "s3a://lake/raw/2026-01-02/winemag-data-130k-v2.json",
                     "s3a://lake/raw/2026-01-02/winemag-data_first150k.csv"]
    # Cutting a CSV source into parts needs local files and a machine-local work dir.
    assert "--csv-parts" not in args and "--work-dir" not in args


@pytest.mark.parametrize("deploy_mode, conf, pattern", [
    ("client", "spark.ui.enabled=false|spark.sql.session.timeZone=UTC", None),
    ("client", "spark.ui.enabled=False", None),
    ("client", "spark.ui.enabled=true", r"Successfully started service 'SparkUI' on port (\d+)"),
    ("client", "spark.sql.session.timeZone=UTC", r"Successfully started service 'SparkUI' on port (\d+)"),
    ("cluster", "spark.ui.enabled=false", r"tracking URL: (https?://.*)\s"),
])
def test_spark_submits_stderr_is_searched_only_when_a_tracking_url_can_be_there(config, deploy_mode, conf, pattern):
    config(f"[spark]\ndeploy-mode = {deploy_mode}\nconf = {conf}\n")
    assert TransformWine(date=datetime.date(2026, 1, 2)).tracking_url_pattern == pattern


def test_with_the_ui_off_spark_submit_runs_without_luigis_stderr_scanner(config, tmp_path, monkeypatch):
    # With the UI off there is nothing for a scanner to find, so none is started.
    fake = tmp_path / "spark-submit"
    fake.write_text("#!/bin/sh\necho \"INFO Utils: Successfully started service 'SparkUI' on port 4040.\" >&2\n"
                    "echo done\n")
    fake.chmod(0o755)
    config(f"[spark]\nspark-submit = {fake}\nmaster = local[*]\nconf = spark.ui.enabled=false\n")
    task = TransformWine(date=datetime.date(2026, 1, 2))
    task._work = tmp_path

    def scanner(*args, **kwargs):
        raise AssertionError("luigi's tracking-URL scanner was started")

    monkeypatch.setattr(TransformWine, "_proc_with_tracking_url_context", scanner)
    SparkSubmitTask.run(task)  # luigi's own run: spark-submit as a subprocess


def test_with_the_ui_on_the_url_is_reported_and_stderr_is_read_to_its_end(config, tmp_path):
    fake = tmp_path / "spark-submit"
    fake.write_text("#!/bin/sh\n"
                    "echo \"INFO Utils: Successfully started service 'SparkUI' on port 4041.\" >&2\n"
                    "echo \"INFO Utils: Successfully started service 'SparkUI' on port 4042.\" >&2\n"
                    "i=0; while [ $i -lt 3000 ]; do echo \"line $i\" >&2; i=$((i+1)); done\n"
                    "echo 'the last line' >&2\nexit 3\n")
    fake.chmod(0o755)
    config(f"[spark]\nspark-submit = {fake}\nmaster = local[*]\nconf = spark.ui.enabled=true\n")
    task = TransformWine(date=datetime.date(2026, 1, 2))
    task._work = tmp_path
    reported = []
    task.set_tracking_url = reported.append
    with pytest.raises(ExternalProgramRunError) as failure:
        SparkSubmitTask.run(task)  # luigi's own run: spark-submit as a subprocess, its stderr through our scanner
    assert reported == [f"http://{socket.getfqdn()}:4041"]  # the first match only, in the task's own process
    lines = failure.value.err.splitlines()
    assert len(lines) == 3003 and lines[-1] == "the last line"
    assert not [t for t in threading.enumerate() if t.name == "spark-submit-stderr"]


def test_python_workers_use_the_pipelines_interpreter(monkeypatch):
    monkeypatch.delenv("PYSPARK_PYTHON", raising=False)
    assert TransformWine(date=datetime.date(2026, 1, 2)).program_environment()["PYSPARK_PYTHON"] == sys.executable


@pytest.mark.integration
def test_the_work_dir_is_removed_when_the_job_fails(ns, batch_date):
    task = TransformWine(date=batch_date)  # no raw files for this date: staging fails
    with pytest.raises(Exception):
        task.run()
    assert not task._work.exists()
    assert task._work.parent == ns.work_dir


def test_transfer_config_parts_or_whole_objects(config):
    config("[transform]\ns3_part_size_mb = 16\n")
    parts = transfer_config()
    assert (parts.multipart_threshold, parts.multipart_chunksize) == (16 * 2**20, 16 * 2**20)
    config("[transform]\ns3_part_size_mb = 0\n")
    whole = transfer_config()
    assert (whole.multipart_threshold, whole.multipart_chunksize) == (5 * 2**30, 5 * 2**30)
    config("[transform]\ns3_part_size_mb = 4\n")
    with pytest.raises(ValueError, match=r"s3_part_size_mb = 4: S3 parts are 5 to 5120 MiB \(0: whole objects\)"):
        transfer_config()


@pytest.mark.integration
@pytest.mark.parametrize("part_size_mb", [0, 5])
def test_raw_files_are_staged_byte_exact_whole_or_in_parts(ns, batch_date, config, part_size_mb, tmp_path):
    from tasks.config import sources
    from tasks.s3 import s3_client, split_url

    config(f"[transform]\ns3_part_size_mb = {part_size_mb}\n")
    client = s3_client()
    task = TransformWine(date=batch_date)
    contents = {}
    for i, src in enumerate(sources()):
        # 11 MiB and a bit: three 5 MiB parts when staged in parts.
        contents[src.file] = bytes([i]) * 7 + bytes(range(256)) * (11 * 4096 + i)
        bucket, key = split_url(task.s3_url("raw", src.file))
        client.put_object(Bucket=bucket, Key=key, Body=contents[src.file])
    # Not under ns.work_dir: the pipeline tests check that no run leaves scratch space there.
    task._work = tmp_path / f"stage-{part_size_mb}"
    task._work.mkdir()
    task.set_status_message = lambda message: None  # no scheduler outside a worker
    gets = []

    def count_get(params, **_):
        gets.append(params.get("Range"))

    client.meta.events.register("before-parameter-build.s3.GetObject", count_get)
    try:
        task._stage_inputs()
    finally:
        client.meta.events.unregister("before-parameter-build.s3.GetObject", count_get)
    for name, content in contents.items():
        assert (task._work / "raw" / name).read_bytes() == content
    # Whole objects: one plain GET each; parts: three ranged GETs each.
    assert len(gets) == (3 if part_size_mb == 0 else 9)
    assert all(r is None for r in gets) if part_size_mb == 0 else all(r.startswith("bytes=") for r in gets)
