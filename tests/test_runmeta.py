"""Per-run metadata in Redis (tasks/runmeta.py), with tiny tasks on the real Redis of the local stack."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import luigi
import pytest

from tasks import runmeta
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

LUIGI = str(Path(sys.executable).parent / "luigi")


# -- tiny tasks: a batch of two stages, one that fails, one that waits for data -------------------------
class RunmetaRaw(luigi.ExternalTask):
    date = luigi.DateParameter()
    root = luigi.Parameter()

    def output(self):
        return luigi.LocalTarget(f"{self.root}/incoming/{self.date}.txt")


class RunmetaExtract(luigi.Task):
    date = luigi.DateParameter()
    root = luigi.Parameter()
    want_raw = luigi.BoolParameter(default=False)

    def requires(self):
        return RunmetaRaw(date=self.date, root=self.root) if self.want_raw else []

    def output(self):
        return luigi.LocalTarget(f"{self.root}/raw/{self.date}.txt")

    def run(self):
        with self.output().open("w") as fh:
            fh.write("x" * 1000)
        self.metrics = {"bytes": 1000, "seconds": 0.01, "sha256": "ab" * 32, "mb_per_s": 0.1}


class RunmetaLoad(luigi.Task):
    date = luigi.DateParameter()
    root = luigi.Parameter()
    fail = luigi.BoolParameter(default=False)
    want_raw = luigi.BoolParameter(default=False)

    def requires(self):
        return RunmetaExtract(date=self.date, root=self.root, want_raw=self.want_raw)

    def output(self):
        return luigi.LocalTarget(f"{self.root}/loaded/{self.date}.txt")

    def run(self):
        if self.fail:
            raise ValueError("the staged rows do not match\nsecond line of the error")
        with self.output().open("w") as fh:
            fh.write("done")
        self.metrics = {"inserted": 7, "updated": 1, "unchanged": 2, "staged": 10, "seconds": 0.02}


@pytest.fixture
def store(ns):
    runmeta.reset()
    s = runmeta.connect()
    assert s.prefix == ns.redis_prefix
    yield s
    runmeta.reset()


def _ttls(store, run_id):
    keys = [store.run_key(run_id), store.tasks_key(run_id), store.dates_key(run_id), store.runs_index]
    keys += [store.task_key(run_id, t) for t in store.r.zrange(store.tasks_key(run_id), 0, -1)]
    return {k: store.r.ttl(k) for k in keys}


def test_a_run_records_the_run_its_tasks_their_metrics_and_the_batch(store, ns, batch_date, tmp_path):
    run_id, result = runmeta.build([RunmetaLoad(date=batch_date, root=str(tmp_path))], local_scheduler=True)
    assert result.scheduling_succeeded
    run = store.run(run_id)
    assert run["status"] == "succeeded" and run["batch_dates"] == [str(batch_date)]
    assert run["host"] == socket.gethostname() and run["scheduler"] == "local" and run["ended_at"]
    tasks = {t["family"]: t for t in store.tasks(run_id)}
    assert set(tasks) == {"RunmetaExtract", "RunmetaLoad"}
    assert [t["status"] for t in tasks.values()] == ["succeeded", "succeeded"]
    assert tasks["RunmetaExtract"]["metrics"]["bytes"] == 1000
    assert tasks["RunmetaLoad"]["metrics"] == {"inserted": 7, "updated": 1, "unchanged": 2, "staged": 10,
                                               "seconds": 0.02}
    assert tasks["RunmetaLoad"]["params"]["date"] == str(batch_date)
    for t in tasks.values():
        assert t["duration_s"] is not None and t["duration_s"] >= 0 and t["attempts"] == 1 and t["retries"] == 0
    # The indexes find it without scanning the keyspace.
    assert store.latest_run_ids(1) == [run_id]
    assert store.batch_run_ids(str(batch_date)) == [run_id]
    # Every key carries the retention TTL (30 days by default).
    for key, ttl in _ttls(store, run_id).items():
        assert 29 * 86400 < ttl <= 30 * 86400, key


def test_a_task_without_metrics_records_none(store, batch_date, tmp_path):
    class RunmetaNoMetrics(luigi.Task):
        date = luigi.DateParameter()

        def complete(self):
            return getattr(self, "_done", False)

        def run(self):
            self._done = True

    run_id, _ = runmeta.build([RunmetaNoMetrics(date=batch_date)], local_scheduler=True)
    [task] = store.tasks(run_id)
    assert task["status"] == "succeeded" and task["metrics"] is None


def test_a_failed_task_records_the_first_lines_of_its_error_and_fails_the_run(store, batch_date, tmp_path):
    run_id, _ = runmeta.build([RunmetaLoad(date=batch_date, root=str(tmp_path), fail=True)], local_scheduler=True)
    assert store.run(run_id)["status"] == "failed"
    tasks = {t["family"]: t for t in store.tasks(run_id)}
    assert tasks["RunmetaExtract"]["status"] == "succeeded"
    load = tasks["RunmetaLoad"]
    assert load["status"] == "failed" and load["metrics"] is None
    assert load["error"].splitlines()[:2] == ["ValueError: the staged rows do not match", "second line of the error"]
    assert "in run" in load["error"]


def test_missing_data_leaves_the_run_incomplete(store, batch_date, tmp_path):
    run_id, _ = runmeta.build([RunmetaLoad(date=batch_date, root=str(tmp_path), want_raw=True)],
                              local_scheduler=True)
    assert store.run(run_id)["status"] == "incomplete"
    statuses = {t["family"]: t["status"] for t in store.tasks(run_id)}
    assert statuses == {"RunmetaRaw": "missing_data", "RunmetaExtract": "pending", "RunmetaLoad": "pending"}


def test_a_second_run_records_the_batch_as_already_done_and_is_the_batchs_latest(store, batch_date, tmp_path):
    first, _ = runmeta.build([RunmetaLoad(date=batch_date, root=str(tmp_path))], local_scheduler=True)
    time.sleep(0.01)
    second, _ = runmeta.build([RunmetaLoad(date=batch_date, root=str(tmp_path))], local_scheduler=True)
    assert store.batch_run_ids(str(batch_date)) == [second, first]
    assert [t["status"] for t in store.tasks(second)] == ["already_done"]
    assert store.run(second)["status"] == "succeeded"


def test_the_run_id_comes_from_the_environment(store, batch_date, tmp_path, monkeypatch):
    monkeypatch.setenv(runmeta.RUN_ID_ENV, f"cron-{batch_date}-test")
    run_id, _ = runmeta.build([RunmetaLoad(date=batch_date, root=str(tmp_path))], local_scheduler=True)
    assert run_id == f"cron-{batch_date}-test" and store.run(run_id)["status"] == "succeeded"


def test_retention_comes_from_configuration_and_old_index_entries_are_trimmed(store, ns):
    short = runmeta.RunStore(store.r, f"{ns.redis_prefix}retention:", retention_days=1)
    short.r.zadd(short.runs_index, {"ancient": time.time() - 3 * 86400})
    short.begin_run("fresh", time.time(), {"status": "running"})
    assert 0 < short.r.ttl(short.run_key("fresh")) <= 86400
    assert short.latest_run_ids(10) == ["fresh"]


def test_retention_days_is_read_from_the_redis_section(ns, tmp_path):
    cfg = tmp_path / "retention.cfg"
    cfg.write_text(ns.config_path.read_text().replace("[redis]\n", "[redis]\nretention_days = 3\n"))
    code = ("from tasks import runmeta; from tasks.config import redis; s = runmeta.connect(); "
            "print(s.ttl, redis().required)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=ns.env(LUIGI_CONFIG_PATH=str(cfg)),
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(3 * 86400), "False"]


# -- the command line: plain luigi, and the recording entry point ------------------------------------------
def _env(ns, config: Path | None = None, **extra):
    env = ns.env(PYTHONPATH=str(ROOT), **extra)
    env.pop(runmeta.RUN_ID_ENV, None)
    if config:
        env["LUIGI_CONFIG_PATH"] = str(config)
    env.update(extra)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when we return: nothing listens there


def test_plain_luigi_records_tasks_from_worker_processes_and_closes_the_run_at_exit(store, ns, batch_date,
                                                                                     tmp_path):
    run_id = f"plain-{ns.suffix}-{batch_date}"
    proc = subprocess.run([LUIGI, "--module", "tests.test_runmeta", "RunmetaLoad", "--date", str(batch_date),
                           "--root", str(tmp_path), "--workers", "2", "--local-scheduler"],
                          cwd=ROOT, env=_env(ns, WINEPIPE_RUN_ID=run_id), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = store.run(run_id)
    assert run["status"] == "succeeded" and run["finalized_by"] == "atexit" and run["exit_code"] is None
    assert "RunmetaLoad" in run["command"]
    tasks = store.tasks(run_id)
    assert [t["status"] for t in tasks] == ["succeeded", "succeeded"]
    assert {t["metrics"]["seconds"] for t in tasks} == {0.01, 0.02}


@pytest.mark.parametrize("fail,want_raw,code,status", [(False, False, 0, "succeeded"), (True, False, 30, "failed"),
                                                       (False, True, 20, "incomplete")])
def test_the_entry_point_records_luigis_exit_code(store, ns, batch_date, tmp_path, fail, want_raw, code, status):
    run_id = f"entry-{ns.suffix}-{batch_date}"
    args = ["--module", "tests.test_runmeta", "RunmetaLoad", "--date", str(batch_date), "--root", str(tmp_path),
            "--local-scheduler"] + (["--fail"] if fail else []) + (["--want-raw"] if want_raw else [])
    proc = subprocess.run([sys.executable, "-m", "tasks.runs", "run", *args], cwd=ROOT,
                          env=_env(ns, WINEPIPE_RUN_ID=run_id), capture_output=True, text=True, timeout=120)
    assert proc.returncode == code, proc.stderr[-3000:]
    run = store.run(run_id)
    assert (run["status"], run["exit_code"], run["finalized_by"]) == (status, code, "entrypoint")
    assert run["scheduler"] == "local"


# -- Redis down -----------------------------------------------------------------------------------------------
def _closed_port_config(ns, tmp_path, required: bool) -> Path:
    cfg = tmp_path / "redis-down.cfg"
    cfg.write_text(ns.config_path.read_text().replace(
        "[redis]\n", f"[redis]\nport = {_free_port()}\nrequired = {'true' if required else 'false'}\n"))
    return cfg


def test_redis_down_logs_one_warning_and_the_data_goes_on(ns, batch_date, tmp_path):
    cfg = _closed_port_config(ns, tmp_path, required=False)
    proc = subprocess.run([LUIGI, "--module", "tests.test_runmeta", "RunmetaLoad", "--date", str(batch_date),
                           "--root", str(tmp_path), "--workers", "2", "--local-scheduler"],
                          cwd=ROOT, env=_env(ns, cfg), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "loaded" / f"{batch_date}.txt").exists()
    warnings = [line for line in proc.stderr.splitlines() if "run metadata is NOT being recorded" in line]
    assert len(warnings) == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr


def test_redis_down_with_required_fails_the_tasks_instead(ns, batch_date, tmp_path):
    cfg = _closed_port_config(ns, tmp_path, required=True)
    proc = subprocess.run([LUIGI, "--module", "tests.test_runmeta", "RunmetaLoad", "--date", str(batch_date),
                           "--root", str(tmp_path), "--local-scheduler"],
                          cwd=ROOT, env=_env(ns, cfg), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 30, proc.stderr[-3000:]
    assert "RunMetadataUnavailable" in proc.stderr and "[redis] required = true" in proc.stderr
    assert not (tmp_path / "raw" / f"{batch_date}.txt").exists()
