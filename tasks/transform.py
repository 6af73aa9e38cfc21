"""Transform: the batch's raw files to curated Parquet, rejects and per-source counts, with PySpark."""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import luigi
from boto3.s3.transfer import TransferConfig
from luigi.contrib.external_program import ExternalProgramRunContext
from luigi.contrib.spark import SparkSubmitTask

from tasks.base import BatchTask
from tasks.config import sources, wine
from tasks.extract import ExtractWineFile
from tasks.s3 import S3_MAX_PART, S3_MIN_PART, MiB, list_keys, s3_client, s3_flag_target, split_url

log = logging.getLogger("winepipe.transform")

ROOT = Path(__file__).resolve().parent.parent
# Cleared and uploaded in this order: curated's _SUCCESS is the task's completion flag, so it is uploaded last.
OUTPUTS = ("rejects", "counts", "curated")
# How long the task waits for the rest of spark-submit's stderr once spark-submit has exited.
STDERR_DRAIN_SECONDS = 30


class transform(luigi.Config):  # noqa: N801 - the section name
    """``[transform]``: how the Spark job reaches its data."""

    io = luigi.ChoiceParameter(
        choices=["local", "s3a"], default="local",
        description="local: stage raw files to a work dir and upload outputs; s3a: the job reads and writes "
                    "s3a:// directly (a cluster with hadoop-aws)")
    shuffle_partitions = luigi.IntParameter(default=8, description="spark.sql.shuffle.partitions of the job")
    curated_files = luigi.IntParameter(
        default=4, description="Parquet files of the curated output: also how many tasks check and de-duplicate "
                               "the records (the job's one shuffle of all records), so size it for the data")
    csv_parts = luigi.IntParameter(
        default=0, description="io=local: the job cuts each CSV source into this many parts at record boundaries, "
                               "so that several tasks parse it; 0: one a core, none under 8 MiB; 1: never")
    s3_part_size_mb = luigi.IntParameter(
        default=8, description="io=local: objects larger than this are staged and uploaded in parts of this size, "
                               "several at a time (boto3's managed transfer, whose default is 8); 0: one request "
                               "per object up to 5 GiB")


def transfer_config() -> TransferConfig:
    """The managed-transfer settings of the staging download and the output upload, from ``[transform]``."""
    size_mb = transform().s3_part_size_mb
    if size_mb == 0:
        return TransferConfig(multipart_threshold=S3_MAX_PART, multipart_chunksize=S3_MAX_PART)
    part = size_mb * MiB
    if not S3_MIN_PART <= part <= S3_MAX_PART:
        raise ValueError(f"[transform] s3_part_size_mb = {size_mb}: S3 parts are 5 to 5120 MiB (0: whole objects)")
    return TransferConfig(multipart_threshold=part, multipart_chunksize=part)


class TransformWine(BatchTask, SparkSubmitTask):
    """Curates a batch with spark/job.py (DATA_CONTRACT.md) into s3://<bucket>/{curated,rejects,counts}/<date>/."""

    name = "winepipe-transform"
    app = str(ROOT / "spark" / "job.py")
    # ExternalProgramTask's knob, not a property of the batch: keep it out of the visualiser's task label.
    capture_output = luigi.BoolParameter(default=True, significant=False, positional=False,
                                         visibility=luigi.parameter.ParameterVisibility.PRIVATE)

    def requires(self) -> dict[str, ExtractWineFile]:
        return {src.name: ExtractWineFile(date=self.date, source=src.name) for src in sources()}

    def output(self) -> luigi.Target:
        return s3_flag_target(self.s3_url("curated"), flag="_SUCCESS")

    # -- spark-submit command line ------------------------------------------------------------
    @property
    def spark_submit(self) -> str:
        # A relative path in [spark] spark-submit (the project's .venv) is relative to the project.
        configured = super().spark_submit
        return str(ROOT / configured) if "/" in configured and not os.path.isabs(configured) else configured

    @property
    def spark_ui_enabled(self) -> bool:
        """Whether ``[spark] conf`` leaves the driver's web UI on (Spark's default is on).

        Only ``[spark] conf`` is read: a UI turned off in spark-defaults.conf still looks on here, which costs a
        scan of spark-submit's stderr for nothing, not a wrong result.
        """
        return (self.conf or {}).get("spark.ui.enabled", "true").strip().lower() != "false"

    @property
    def tracking_url_pattern(self) -> str | None:
        if self.deploy_mode == "cluster":
            return super().tracking_url_pattern
        if not self.spark_ui_enabled:
            # Nothing to find: without a pattern, luigi runs spark-submit with its output straight to files.
            return None
        # Spark 4 no longer logs "Bound SparkUI to ..., and started at <url>", which luigi.contrib.spark expects.
        return r"Successfully started service 'SparkUI' on port (\d+)"

    @contextmanager
    def _proc_with_tracking_url_context(self, proc_args: list[str], proc_kwargs: dict) -> Iterator[subprocess.Popen]:
        # Replaces luigi 3.8.1's version, whose scanner (a forked process) never sees the end of stderr: it
        # compares readline()'s b"" with "", so luigi waits 1 s for it after every run and then kills it. This one
        # reads stderr in a thread until the end of the stream, copying it to luigi's capture file as luigi does.
        capture = proc_kwargs.get("stderr")
        proc = subprocess.Popen(proc_args, **{**proc_kwargs, "stderr": subprocess.PIPE})
        pattern = re.compile(self.tracking_url_pattern)

        def scan() -> None:
            found = False
            for line in iter(proc.stderr.readline, b""):
                if capture is not None:
                    capture.write(line)
                match = None if found else pattern.search(line.decode("utf-8", "replace"))
                if match:
                    found = True
                    self.set_tracking_url(self.build_tracking_url(match.group(1)))

        scanner = threading.Thread(target=scan, name="spark-submit-stderr", daemon=True)
        scanner.start()
        try:
            with ExternalProgramRunContext(proc):
                yield proc
        finally:
            # The end of the stream comes when spark-submit and its children have exited; the timeout only guards
            # against a grandchild that keeps stderr open.
            scanner.join(STDERR_DRAIN_SECONDS)
            proc.stderr.close()

    def build_tracking_url(self, logs_output: str) -> str:
        if self.deploy_mode == "cluster":
            return super().build_tracking_url(logs_output)
        # local and client mode: the driver, and so the UI, runs on this machine.
        return f"http://{socket.getfqdn()}:{logs_output}"

    def program_environment(self) -> dict[str, str]:
        env = super().program_environment()
        # Python workers must run the interpreter that has pyspark and the job's dependencies.
        env.setdefault("PYSPARK_PYTHON", sys.executable)
        return env

    @property
    def py_files(self) -> list[str]:
        # The job's package ships to the executors, so the same job runs unchanged on a cluster.
        return (super().py_files or []) + [str(self._work / "spark.zip")]

    def app_options(self) -> list[str]:
        cfg = transform()
        if cfg.io == "s3a":
            def raw(src): return self.s3_url("raw", src.file).replace("s3://", "s3a://", 1)
            def out(zone): return self.s3_url(zone).replace("s3://", "s3a://", 1)
        else:
            def raw(src): return str(self._work / "raw" / src.file)
            def out(zone): return str(self._work / "out" / zone)
        spec = [{"name": s.name, "format": s.format, "precedence": s.precedence, "path": raw(s)} for s in sources()]
        options = ["--batch-date", f"{self.date:%Y-%m-%d}", "--sources", json.dumps(spec),
                   "--curated", out("curated"), "--rejects", out("rejects"), "--counts", out("counts"),
                   "--shuffle-partitions", str(cfg.shuffle_partitions), "--curated-files", str(cfg.curated_files)]
        if cfg.io == "local":
            # The parts go to the task's work dir, which the task removes whatever happens.
            options += ["--csv-parts", str(cfg.csv_parts), "--work-dir", str(self._work)]
        return options

    # -- run ----------------------------------------------------------------------------------
    def run(self) -> None:
        self._work = Path(tempfile.mkdtemp(prefix=f"winepipe-transform-{self.date}-", dir=wine().work_dir or None))
        try:
            _zip_package(ROOT / "spark", self._work / "spark.zip")
            local = transform().io == "local"
            # Leftovers of a crashed attempt must not mix with this attempt's part files.
            self._clear_outputs()
            if local:
                self._stage_inputs()
            self.set_status_message("running the Spark job")
            super().run()
            if local:
                self._upload_outputs()
        finally:
            # The work dir holds a copy of the whole batch: never leave it behind, failed or not.
            shutil.rmtree(self._work, ignore_errors=True)
        self.metrics = {row["source_name"]: {k: v for k, v in row.items() if k != "source_name"}
                        for row in read_counts(self.s3_url("counts"))}
        for name, row in self.metrics.items():
            log.info("batch %s %s: read %d, rejected %d, duplicates %d, kept %d", self.date, name,
                     row["records_read"], row["rejected"], row["duplicates"], row["kept"])

    def _stage_inputs(self) -> None:
        client, config = s3_client(), transfer_config()
        (self._work / "raw").mkdir()
        for src in sources():
            bucket, key = split_url(self.s3_url("raw", src.file))
            client.download_file(bucket, key, str(self._work / "raw" / src.file), Config=config)
        self.set_status_message("raw files staged")

    def _clear_outputs(self) -> None:
        client = s3_client()
        # The completion flag goes first: while anything of an older attempt is being removed, the output
        # must not look complete.
        flag_bucket, flag_key = split_url(self.output().path + self.output().flag)
        client.delete_object(Bucket=flag_bucket, Key=flag_key)
        for zone in OUTPUTS:
            bucket, _ = split_url(self.s3_url(zone))
            for key in list_keys(self.s3_url(zone)):
                client.delete_object(Bucket=bucket, Key=key)

    def _upload_outputs(self) -> None:
        client, config = s3_client(), transfer_config()
        flags = []
        for zone in OUTPUTS:
            base = self._work / "out" / zone
            bucket, prefix = split_url(self.s3_url(zone))
            for path in sorted(base.rglob("*")):
                if not path.is_file() or path.name.endswith(".crc") or path.name.startswith("."):
                    continue
                key = prefix + path.relative_to(base).as_posix()
                if path.name == "_SUCCESS":
                    flags.append((path, bucket, key))
                else:
                    client.upload_file(str(path), bucket, key, Config=config)
        for path, bucket, key in flags:  # in OUTPUTS order: curated's flag is the very last object
            client.upload_file(str(path), bucket, key, Config=config)


def _zip_package(package: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(package.rglob("*.py")):
            zf.write(path, path.relative_to(package.parent).as_posix())


def read_counts(date_prefix_url: str) -> list[dict]:
    """The per-source counts the job wrote under ``s3://<bucket>/counts/<date>/`` (JSON lines)."""
    client = s3_client()
    rows: list[dict] = []
    for key in list_keys(date_prefix_url):
        if os.path.basename(key).startswith("part-"):
            bucket, _ = split_url(date_prefix_url)
            body = client.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
            rows.extend(json.loads(line) for line in body.splitlines() if line.strip())
    return sorted(rows, key=lambda r: r["source_name"])
