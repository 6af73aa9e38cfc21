"""Fixtures shared by the whole suite.

Integration tests run against the local stack (``make up``) but never touch what ``make run`` made: each
test session gets its own MySQL database, S3 bucket, SFTP folder and Redis key prefix, named by a random
suffix, through a luigi config override file (the same LUIGI_CONFIG_PATH mechanism production uses).
"""
from __future__ import annotations

import datetime
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import luigi.configuration
import pytest

from tests.real_samples import SAMPLES

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Namespace:
    """Where this test session's data lives on the local stack."""

    suffix: str
    database: str
    bucket: str
    remote_root: str
    sftp_dir: Path
    redis_prefix: str
    config_path: Path
    work_dir: Path

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a pipeline subprocess that uses this namespace."""
        env = dict(os.environ)
        env["LUIGI_CONFIG_PATH"] = str(self.config_path)
        env.update(extra)
        return env


@pytest.fixture(scope="session")
def shared_samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.fail(f"the real sample rows are missing: {SAMPLES} (set WINEPIPE_SHARED_DIR)")
    return SAMPLES


@pytest.fixture(scope="session")
def stack() -> None:
    """The local stack must be up: ``make test`` starts it."""
    proc = subprocess.run([sys.executable, "-m", "devstack", "status"], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"the local stack is not healthy; run `make up`\n{proc.stderr}")


@pytest.fixture(scope="session")
def ns(stack, tmp_path_factory) -> Namespace:
    from devstack.namespace import NamespaceNames
    from tasks import mysql
    from tasks.s3 import s3_client

    suffix = secrets.token_hex(4)
    names = NamespaceNames.of(f"test-{suffix}")
    space = Namespace(
        suffix=suffix,
        **names.places(),
        config_path=tmp_path_factory.mktemp("config") / "luigi-test.cfg",
        work_dir=tmp_path_factory.mktemp("work"),
    )
    names.write_override(space.config_path, space.work_dir, extra="""
[transform]
shuffle_partitions = 4

[spark]
driver-memory = 1g
""")
    # The project's luigi.cfg is read relative to the working directory.
    os.chdir(ROOT)
    admin = mysql.connect()  # still on the configured database: the test one does not exist yet
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{space.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    admin.close()
    os.environ["LUIGI_CONFIG_PATH"] = str(space.config_path)
    luigi.configuration.get_config().add_config_path(str(space.config_path))
    s3_client().create_bucket(Bucket=space.bucket)
    space.sftp_dir.mkdir(parents=True)
    yield space

    conn = mysql.connect()
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{space.database}`")
    conn.close()
    client = s3_client()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=space.bucket):
        for obj in page.get("Contents", []):
            client.delete_object(Bucket=space.bucket, Key=obj["Key"])
    client.delete_bucket(Bucket=space.bucket)
    shutil.rmtree(space.sftp_dir, ignore_errors=True)


@pytest.fixture
def config(tmp_path):
    """Layer a config override on top of luigi.cfg for one test, then take it away again."""
    parser = luigi.configuration.get_config()
    added = []

    def layer(text: str) -> None:
        path = tmp_path / f"override-{len(added)}.cfg"
        path.write_text(text)
        parser.add_config_path(str(path))
        added.append(str(path))

    yield layer
    for path in added:
        parser._config_paths.remove(path)
    # reload() reads the remaining files over the parser's current values: a key only a removed layer set would
    # stay. Start from empty so that the layer's keys are really gone.
    for section in parser.sections():
        parser.remove_section(section)
    parser.reload()


_dates = iter(datetime.date(2001, 1, 1) + datetime.timedelta(days=i) for i in range(100000))


@pytest.fixture
def batch_date() -> datetime.date:
    """A batch date no other test of this session uses, so tests never see each other's targets."""
    return next(_dates)


def run_luigi(ns: Namespace, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """``luigi --module tasks ARGS --local-scheduler`` as a data engineer would run it, in this namespace."""
    # Luigi's process lock keys on the command line alone: without a lock dir of its own, a test's run of a date
    # would block (and be blocked by) `make run` of the same date in another namespace.
    cmd = [str(Path(sys.executable).parent / "luigi"), "--module", "tasks", *args, "--local-scheduler",
           "--lock-pid-dir", str(ns.work_dir.parent / f"locks-{ns.suffix}")]
    return subprocess.run(cmd, cwd=ROOT, env=ns.env(), capture_output=True, text=True, timeout=timeout)
