"""Where a benchmark run keeps its data on the local stack, and how it resets it between runs.

Same mechanism as tests/conftest.py: a luigi config override file named by LUIGI_CONFIG_PATH gives the run its
own MySQL database, S3 bucket, SFTP folder and Redis key prefix. The default namespace ``bench`` gives database
``winepipe_bench``, bucket ``winepipe-bench``, SFTP folder ``.stack/sftp/bench/`` and prefix ``winepipe-bench:``;
``--namespace smoke-1a2b`` gives ``winepipe_bench_smoke_1a2b`` and so on, so the smoke test never touches a real
benchmark's data. Everything else (``[spark]``, ``[transform]``, ``[s3]``...) stays as luigi.cfg says: the
benchmark measures the configuration the project ships.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from bench import BENCH, ROOT
from devstack.namespace import NamespaceNames

VENV_BIN = Path(sys.executable).parent
MARIADB_JAR = Path("/usr/share/java/mariadb-java-client.jar")


@dataclass
class BenchSpace:
    namespace: str
    database: str
    bucket: str
    remote_root: str
    sftp_dir: Path
    redis_prefix: str
    work_dir: Path
    config_path: Path

    @classmethod
    def create(cls, namespace: str = "bench") -> BenchSpace:
        if not re.fullmatch(r"bench([-_][a-z0-9]+)*", namespace):
            raise ValueError(f"namespace {namespace!r}: expected 'bench' or 'bench-<lowercase letters/digits>'")
        names = NamespaceNames.of(namespace)
        work = BENCH / "work" / namespace
        work.mkdir(parents=True, exist_ok=True)
        space = cls(
            namespace=namespace,
            **names.places(),
            work_dir=work,
            config_path=work / "luigi-bench.cfg",
        )
        (work / "scratch").mkdir(exist_ok=True)
        names.write_override(space.config_path, work / "scratch")
        return space

    # -- environment ----------------------------------------------------------------------------
    def env(self, **extra: str) -> dict[str, str]:
        """Environment of every contender's subprocess: this namespace, the project importable."""
        env = dict(os.environ)
        env["LUIGI_CONFIG_PATH"] = str(self.config_path)
        # `luigi --module tasks` imports from sys.path, which holds the luigi script's directory, not the cwd.
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        env.setdefault("PYSPARK_PYTHON", sys.executable)
        env.update(extra)
        return env

    def activate(self) -> None:
        """Point this process's luigi configuration at the namespace (for the resets and checks)."""
        import luigi.configuration

        os.chdir(ROOT)
        os.environ["LUIGI_CONFIG_PATH"] = str(self.config_path)
        luigi.configuration.get_config().add_config_path(str(self.config_path))

    # -- MySQL ------------------------------------------------------------------------------------
    def _server(self):
        import pymysql
        from tasks.config import mysql

        cfg = mysql()
        return pymysql.connect(host=cfg.host, port=cfg.port, user=cfg.user, password=cfg.resolved_password(),
                               charset="utf8mb4", autocommit=True, connect_timeout=cfg.connect_timeout)

    def reset_database(self) -> None:
        """Drop and recreate the namespace's database: empty tables, no markers."""
        conn = self._server()
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{self.database}`")
                cur.execute(f"CREATE DATABASE `{self.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        finally:
            conn.close()

    def drop_database(self) -> None:
        conn = self._server()
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{self.database}`")
        finally:
            conn.close()

    def count_rows(self, table: str) -> int | None:
        """COUNT(*) of ``table`` in the namespace's database; None when the table does not exist."""
        import pymysql
        from tasks import mysql

        conn = mysql.connect(database=self.database)
        try:
            with conn.cursor() as cur:
                try:
                    cur.execute(f"SELECT COUNT(*) FROM `{table}`")
                except pymysql.err.ProgrammingError:
                    return None
                return int(cur.fetchone()[0])
        finally:
            conn.close()

    # -- S3 ---------------------------------------------------------------------------------------
    def reset_bucket(self, *zones: str) -> None:
        """Delete every object of the bucket (or only those under ``<zone>/``); create the bucket if missing."""
        from tasks.s3 import s3_client

        client = s3_client()
        existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        if self.bucket not in existing:
            client.create_bucket(Bucket=self.bucket)
            return
        prefixes = [f"{z}/" for z in zones] or [""]
        for prefix in prefixes:
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})

    def drop_bucket(self) -> None:
        from tasks.s3 import s3_client

        client = s3_client()
        existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        if self.bucket in existing:
            self.reset_bucket()
            client.delete_bucket(Bucket=self.bucket)

    # -- Redis ------------------------------------------------------------------------------------
    def reset_redis(self) -> None:
        """Delete every key under the namespace's prefix (run metadata, the seed-style baseline's JSON)."""
        import redis as redis_lib
        from tasks.config import redis as redis_config

        cfg = redis_config()
        client = redis_lib.Redis(host=cfg.host, port=cfg.port, db=cfg.db, password=cfg.password or None)
        try:
            keys = list(client.scan_iter(match=f"{self.redis_prefix}*", count=1000))
            for i in range(0, len(keys), 500):
                client.delete(*keys[i:i + 500])
        finally:
            client.close()

    # -- data -------------------------------------------------------------------------------------
    def batch_dir(self, date: str) -> Path:
        return self.sftp_dir / date

    def generate(self, date: str, scale: float, seed: int) -> dict:
        """The batch's three files in the SFTP folder (skipped when the same batch is already there)."""
        from tasks.sample import generate

        manifest_path = self.work_dir / f"manifest-{date}.json"
        return generate(self.batch_dir(date), date, scale, seed, manifest_path=manifest_path)

    def remove_data(self) -> None:
        shutil.rmtree(self.sftp_dir, ignore_errors=True)
        shutil.rmtree(self.work_dir, ignore_errors=True)


def spark_submit_command(app: str | Path, args: list[str], *, jars: list[str] = (),
                         shuffle_partitions: bool = True) -> list[str]:
    """``spark-submit`` with the same options TransformWine gets from ``[spark]`` (and ``[transform]``)."""
    import luigi.configuration

    cfg = luigi.configuration.get_config()

    def get(key: str, default: str = "") -> str:
        return cfg.get("spark", key, default) or default

    submit = get("spark-submit", "spark-submit")
    if "/" in submit and not os.path.isabs(submit):
        submit = str(ROOT / submit)
    cmd = [submit]
    if get("master"):
        cmd += ["--master", get("master")]
    if get("deploy-mode"):
        cmd += ["--deploy-mode", get("deploy-mode")]
    for key in ("driver-memory", "executor-memory", "driver-cores", "executor-cores", "num-executors"):
        if get(key):
            cmd += [f"--{key}", get(key)]
    all_jars = [j for j in get("jars").split(",") if j] + list(jars)
    if all_jars:
        cmd += ["--jars", ",".join(all_jars)]
    confs = [c for c in get("conf").split("|") if c]
    if shuffle_partitions:
        parts = cfg.get("transform", "shuffle_partitions", "8")
        confs.append(f"spark.sql.shuffle.partitions={parts}")
    for conf in confs:
        cmd += ["--conf", conf]
    return cmd + [str(app)] + list(args)


def read_json_line(text: str) -> dict:
    """The last line of ``text`` that is a JSON object (the floors and baselines print their result so)."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return {}
