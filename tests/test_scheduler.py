"""The central scheduler, the visualiser and cron: a real batch on the stack's luigid, its graph in headless
Chromium, and cron/winepipe-cron.sh's backfill, exit codes and overlap protection (with tiny tasks)."""
from __future__ import annotations

import datetime
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import luigi
import pytest

from tasks import runmeta
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

SCHEDULER = "http://127.0.0.1:8082/"
LUIGI = str(Path(sys.executable).parent / "luigi")
WRAPPER = ROOT / "cron" / "winepipe-cron.sh"


def api(method: str, **data) -> dict:
    url = f"{SCHEDULER}api/{method}?data={urllib.parse.quote(json.dumps(data))}"
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.load(resp)["response"]


# -- a real batch through the central scheduler ----------------------------------------------------------
@pytest.fixture(scope="module")
def scheduled_batch(ns, tmp_path_factory):
    """One sample batch run by ``luigi --module tasks LoadWine --scheduler-url ...`` against the stack's luigid."""
    if not (ROOT / "spark" / "job.py").exists():
        pytest.skip("spark/job.py is not there yet")
    # A date no other session uses: the central scheduler is shared and LoadWine's id is its date alone.
    date = datetime.date(1990, 1, 1) + datetime.timedelta(days=int(ns.suffix, 16) % 9000)
    subprocess.run([sys.executable, "-m", "tasks.sample", "--date", str(date), "--scale", "0.001",
                    "--out", str(ns.sftp_dir / str(date))], cwd=ROOT, check=True, capture_output=True)
    run_id = f"sched-{ns.suffix}"
    env = ns.env(WINEPIPE_RUN_ID=run_id)
    proc = subprocess.run([LUIGI, "--module", "tasks", "LoadWine", "--date", str(date), "--workers", "3",
                           "--scheduler-url", SCHEDULER], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
    from tasks import LoadWine
    return date, LoadWine(date=date).task_id, run_id, proc


def test_a_batch_on_the_central_scheduler_shows_every_task_done(scheduled_batch):
    date, root_id, _, proc = scheduled_batch
    assert proc.returncode == 0, proc.stderr[-4000:]
    graph = api("dep_graph", task_id=root_id)
    families = sorted(t["name"] for t in graph.values())
    assert families == ["ExtractWineFile"] * 3 + ["LoadWine"] + ["RemoteWineFile"] * 3 + ["TransformWine"], families
    assert {t["status"] for t in graph.values()} == {"DONE"}, graph
    assert graph[root_id]["params"] == {"date": str(date)}
    done = api("task_list", status="DONE", search=str(date))
    assert root_id in done
    assert {t["name"] for t in done.values()} >= {"LoadWine", "TransformWine", "ExtractWineFile"}


def test_the_batch_run_is_recorded_with_the_scheduler_and_stage_counters(scheduled_batch):
    date, _, run_id, proc = scheduled_batch
    assert proc.returncode == 0, proc.stderr[-4000:]
    runmeta.reset()
    store = runmeta.connect()
    run = store.run(run_id)
    assert run["status"] == "succeeded" and run["scheduler"] == SCHEDULER and run["batch_dates"] == [str(date)]
    assert store.batch_run_ids(str(date))[0] == run_id
    tasks = {t["family"]: t for t in store.tasks(run_id) if t["status"] == "succeeded"}
    assert set(tasks) == {"ExtractWineFile", "TransformWine", "LoadWine"}
    shown = subprocess.run([sys.executable, "-m", "tasks.runs", "show", run_id], cwd=ROOT,
                           env=os.environ.copy(), capture_output=True, text=True, check=True).stdout
    print(shown)  # the real `show` output, for the report (pytest -s)
    assert "LoadWine" in shown and "succeeded" in shown


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return found


def test_the_visualiser_graph_of_the_batch_shows_its_tasks(scheduled_batch, tmp_path):
    _, root_id, _, proc = scheduled_batch
    assert proc.returncode == 0, proc.stderr[-4000:]
    url = f"{SCHEDULER}static/visualiser/index.html#tab=graph&taskId={urllib.parse.quote(root_id)}"
    flags = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
             "--window-size=1400,900", "--virtual-time-budget=10000"]
    shot = tmp_path / "graph.png"
    subprocess.run([*flags, f"--screenshot={shot}", url], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    for family in ("LoadWine", "TransformWine", "ExtractWineFile"):
        assert family in dom, f"{family} not in the visualiser's graph page"
    keep = os.environ.get("WINEPIPE_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, Path(keep) / "visualiser-graph.png")


# -- cron: the wrapper, with a tiny daily task -----------------------------------------------------------
class CronProbeInput(luigi.ExternalTask):
    date = luigi.DateParameter()
    tag = luigi.Parameter(default=os.environ.get("CRON_PROBE_TAG", ""))

    def output(self):
        return luigi.LocalTarget(f"{os.environ['CRON_PROBE_ROOT']}/incoming/{self.date}")


class CronProbe(luigi.Task):
    """A daily batch: waits for its input, takes a few seconds, counts its executions."""

    date = luigi.DateParameter()
    tag = luigi.Parameter(default=os.environ.get("CRON_PROBE_TAG", ""))

    def requires(self):
        return CronProbeInput(date=self.date, tag=self.tag)

    def output(self):
        return luigi.LocalTarget(f"{os.environ['CRON_PROBE_ROOT']}/done/{self.date}")

    def run(self):
        self.set_status_message(f"working on {self.date}")
        with open(f"{os.environ['CRON_PROBE_ROOT']}/executions", "a") as fh:
            fh.write(f"{self.date} {os.getpid()}\n")
        if Path(f"{os.environ['CRON_PROBE_ROOT']}/fail-{self.date}").exists():
            raise RuntimeError(f"batch {self.date} is broken")
        time.sleep(float(os.environ.get("CRON_PROBE_SECONDS", "0")))
        with self.output().open("w") as fh:
            fh.write("ok")
        self.metrics = {"seconds": 0}


def _days(n: int) -> list[datetime.date]:
    today = datetime.datetime.now(datetime.timezone.utc).date()
    return [today - datetime.timedelta(days=i) for i in range(n - 1, -1, -1)]


def _cron_env(ns, root: Path, task_limit: int, **extra) -> dict[str, str]:
    # Each invocation below gets its own RangeDaily (task_limit is part of its id): luigid keeps an exited worker
    # as a stakeholder of the tasks it added for [scheduler] worker_disconnect_delay (60 s) and may reserve the
    # same RangeDaily for it, so back-to-back runs seconds apart would exit not_run (25). Hourly cron never does.
    env = ns.env(PYTHONPATH=str(ROOT), CRON_PROBE_ROOT=str(root), CRON_PROBE_TAG=f"{ns.suffix}-{root.name}",
                 WINEPIPE_MODULE="tests.test_scheduler", WINEPIPE_OF="CronProbe",
                 WINEPIPE_START=str(_days(3)[0]), WINEPIPE_DAYS_BACK="3", WINEPIPE_WORKERS="2",
                 WINEPIPE_LOG_DIR=str(root / "log"), WINEPIPE_TASK_LIMIT=str(task_limit))
    env.pop(runmeta.RUN_ID_ENV, None)
    env.update(extra)
    return env


@pytest.fixture
def probe_root(tmp_path):
    (tmp_path / "incoming").mkdir()
    (tmp_path / "done").mkdir()
    (tmp_path / "executions").touch()
    return tmp_path


def test_cron_backfills_the_missed_days_and_exits_by_what_happened(ns, probe_root):
    days = _days(3)
    for day in days[:2]:
        (probe_root / "incoming" / str(day)).touch()
    # Today's file has not arrived: the two earlier days are done, the run exits missing_data.
    first = subprocess.run([str(WRAPPER)], env=_cron_env(ns, probe_root, 11, WINEPIPE_RUN_ID=f"cron1-{ns.suffix}"),
                           capture_output=True, text=True, timeout=300)
    log = next((probe_root / "log").glob("winepipe-*.log")).read_text()
    assert first.returncode == 20, log[-4000:]
    assert sorted(p.name for p in (probe_root / "done").iterdir()) == [str(d) for d in days[:2]]
    assert "exit 20 (missing data: a file has not arrived yet)" in log
    # It arrives: the next run does only today.
    (probe_root / "incoming" / str(days[2])).touch()
    second = subprocess.run([str(WRAPPER)], env=_cron_env(ns, probe_root, 12, WINEPIPE_RUN_ID=f"cron2-{ns.suffix}"),
                            capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, (probe_root / "log").glob("*.log").__next__().read_text()[-4000:]
    assert len((probe_root / "executions").read_text().splitlines()) == 3
    runmeta.reset()
    store = runmeta.connect()
    assert store.run(f"cron1-{ns.suffix}")["status"] == "incomplete"
    run = store.run(f"cron2-{ns.suffix}")
    assert (run["status"], run["exit_code"], run["scheduler"]) == ("succeeded", 0, SCHEDULER)
    assert run["batch_dates"] == [str(days[2])]


def test_cron_exits_task_failed_when_a_batch_fails(ns, probe_root):
    for day in _days(3):
        (probe_root / "incoming" / str(day)).touch()
    (probe_root / f"fail-{_days(3)[1]}").touch()
    proc = subprocess.run([str(WRAPPER)], env=_cron_env(ns, probe_root, 13, WINEPIPE_RUN_ID=f"cronf-{ns.suffix}"),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 30
    runmeta.reset()
    run = runmeta.connect().run(f"cronf-{ns.suffix}")
    assert (run["status"], run["exit_code"]) == ("failed", 30)


def test_two_overlapping_cron_runs_do_the_work_once(ns, probe_root):
    for day in _days(3):
        (probe_root / "incoming" / str(day)).touch()
    env = _cron_env(ns, probe_root, 14, CRON_PROBE_SECONDS="4")
    first = subprocess.Popen([str(WRAPPER)], env={**env, "WINEPIPE_RUN_ID": f"ovl1-{ns.suffix}"})
    time.sleep(1.0)
    second = subprocess.Popen([str(WRAPPER)], env={**env, "WINEPIPE_RUN_ID": f"ovl2-{ns.suffix}"})
    codes = sorted([first.wait(timeout=300), second.wait(timeout=300)])
    assert codes == [0, 10], codes
    executions = (probe_root / "executions").read_text().splitlines()
    assert sorted(line.split()[0] for line in executions) == [str(d) for d in _days(3)]


def test_cron_exits_already_running_while_its_lock_is_held(ns, probe_root):
    # The runner's flock is taken before Luigi starts: nothing is scheduled or run while another process holds it,
    # whatever Luigi's pid file says; the run is still recorded.
    for day in _days(3):
        (probe_root / "incoming" / str(day)).touch()
    (probe_root / "log").mkdir()
    lock_path = probe_root / "log" / ".winepipe-cron-tests.test_scheduler-CronProbe.lock"
    with open(lock_path, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        proc = subprocess.run([str(WRAPPER)], env=_cron_env(ns, probe_root, 16, WINEPIPE_RUN_ID=f"lock-{ns.suffix}"),
                              capture_output=True, text=True, timeout=120)
    log = next((probe_root / "log").glob("winepipe-*.log")).read_text()
    assert proc.returncode == 10, log[-4000:]
    assert f"run lock-{ns.suffix}: another run holds {lock_path}; nothing was run (already running)" in log
    assert f"run lock-{ns.suffix}: exit 10 (already running)" in log
    assert (probe_root / "executions").read_text() == ""
    runmeta.reset()
    run = runmeta.connect().run(f"lock-{ns.suffix}")
    assert (run["status"], run["exit_code"]) == ("incomplete", 10)
    # Released with its holder: the next run goes ahead.
    again = subprocess.run([str(WRAPPER)], env=_cron_env(ns, probe_root, 17, WINEPIPE_RUN_ID=f"lock2-{ns.suffix}"),
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, next((probe_root / "log").glob("winepipe-*.log")).read_text()[-4000:]
    assert len((probe_root / "executions").read_text().splitlines()) == 3


def test_the_central_scheduler_keeps_a_batch_to_one_worker_across_different_command_lines(ns, probe_root):
    # Different command lines do not share Luigi's process lock; the central scheduler still runs each task once.
    for day in _days(3):
        (probe_root / "incoming" / str(day)).touch()
    env = _cron_env(ns, probe_root, 15, CRON_PROBE_SECONDS="4")
    procs = [subprocess.Popen([LUIGI, "--module", "tests.test_scheduler", "CronProbe", "--date", str(_days(1)[0]),
                               "--workers", str(workers), "--scheduler-url", SCHEDULER], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for workers in (1, 2)]
    codes = sorted(p.wait(timeout=300) for p in procs)
    assert codes in ([0, 0], [0, 10]), codes
    assert len((probe_root / "executions").read_text().splitlines()) == 1
