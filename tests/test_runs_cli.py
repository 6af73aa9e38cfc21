"""``python -m tasks.runs``: list, show and batch, as tables and as the documented JSON."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tasks import runmeta
from tests.conftest import ROOT
from tests.test_runmeta import RunmetaLoad

pytestmark = pytest.mark.integration


def runs(ns, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tasks.runs", *args], cwd=ROOT, env=ns.env(),
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def two_runs(ns, batch_date, tmp_path):
    runmeta.reset()
    ok, _ = runmeta.build([RunmetaLoad(date=batch_date, root=str(tmp_path / "a"))], local_scheduler=True)
    bad, _ = runmeta.build([RunmetaLoad(date=batch_date, root=str(tmp_path / "b"), fail=True)], local_scheduler=True)
    runmeta.reset()
    return batch_date, ok, bad


def test_list_shows_the_latest_runs_first(ns, two_runs):
    _, ok, bad = two_runs
    table = runs(ns, "list", "--limit", "2")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["RUN", "ID", "STATUS"]
    assert lines[1].split()[:2] == [bad, "failed"] and lines[2].split()[:2] == [ok, "succeeded"]
    data = json.loads(runs(ns, "list", "--limit", "2", "--json").stdout)
    assert data["format"] == "winepipe.runs/1"
    assert [r["run_id"] for r in data["runs"]] == [bad, ok]
    assert set(data["runs"][0]) == {"run_id", "status", "started_at", "ended_at", "duration_s", "exit_code",
                                    "finalized_by", "host", "pid", "user", "command", "scheduler", "batch_dates",
                                    "task_count"}


def test_show_lists_tasks_durations_counters_and_the_error(ns, two_runs):
    _, ok, bad = two_runs
    shown = runs(ns, "show", ok).stdout
    assert f"run {ok}: succeeded" in shown
    assert "RunmetaLoad(" in shown and "inserted=7" in shown and "bytes=1000" in shown
    failed = runs(ns, "show", bad).stdout
    assert f"run {bad}: failed" in failed
    assert "error in RunmetaLoad(" in failed and "ValueError: the staged rows do not match" in failed
    data = json.loads(runs(ns, "show", bad, "--json").stdout)["run"]
    assert data["status"] == "failed" and "ValueError" in data["error"]
    assert {t["family"]: t["status"] for t in data["tasks"]} == {"RunmetaExtract": "succeeded",
                                                                "RunmetaLoad": "failed"}
    assert set(data["tasks"][0]) == {"task_id", "family", "params", "status", "started_at", "ended_at",
                                     "duration_s", "attempts", "retries", "error", "metrics"}


def test_batch_finds_the_latest_run_of_a_batch(ns, two_runs):
    date, ok, bad = two_runs
    data = json.loads(runs(ns, "batch", str(date), "--json").stdout)
    assert data["date"] == str(date) and data["latest"]["run_id"] == bad
    assert [r["run_id"] for r in data["runs"]] == [bad, ok]
    text = runs(ns, "batch", str(date)).stdout
    assert f"batch {date}: 2 run(s)" in text and f"run {bad}: failed" in text


def test_unknown_run_and_unreachable_redis_are_clear_errors(ns, tmp_path):
    missing = runs(ns, "show", "no-such-run")
    assert missing.returncode == 1 and "no run 'no-such-run'" in missing.stderr
    cfg = tmp_path / "down.cfg"
    cfg.write_text(ns.config_path.read_text().replace("[redis]\n", "[redis]\nport = 1\n"))
    down = subprocess.run([sys.executable, "-m", "tasks.runs", "list"], cwd=ROOT,
                          env=ns.env(LUIGI_CONFIG_PATH=str(cfg)), capture_output=True, text=True, timeout=60)
    assert down.returncode == 2 and "Redis is unreachable" in down.stderr
