"""Per-run metadata in Redis, recorded through Luigi's event handlers.

Every invocation of the pipeline is a *run* with a run id (``WINEPIPE_RUN_ID`` or a generated one). The event
handlers below record the run, each task the worker saw (status, times, attempts, the first lines of the error,
the task's ``metrics``) and the batch dates involved. ``python -m tasks.runs`` reads it back.

Key layout (``P`` is ``[redis] key_prefix``); every key expires ``[redis] retention_days`` after its last write:

* ``P run:<run_id>``               hash: the run (status, started_at, ended_at, host, command, scheduler, exit_code …)
* ``P run:<run_id>:tasks``         sorted set: task ids of the run, scored by when the run first saw them
* ``P run:<run_id>:task:<task_id>`` hash: one task of the run (status, started_at, duration_s, error, metrics …)
* ``P run:<run_id>:dates``         set: the batch dates (``YYYY-MM-DD``) the run's tasks belong to
* ``P runs``                       sorted set: every run id, scored by its start (epoch seconds)
* ``P batch:<date>:runs``          sorted set: the run ids that touched a batch, scored by their start

The two indexes let a reader find the latest runs and the latest run of a batch with ZREVRANGE, never KEYS or
SCAN; entries older than the retention are trimmed from them whenever a run starts.

How a run ends: Luigi has no "run finished" event. ``python -m tasks.runs run ...`` (the cron wrapper's entry
point) runs Luigi's own ``run_with_retcodes`` and records the exit code and the status it implies. A plain
``luigi --module tasks ...`` records the same task-level data; an ``atexit`` hook of its main process closes the
run with a status derived from the recorded tasks (``finalized_by = atexit``, no exit code).

Redis being unreachable never stops the data: ONE warning is logged and recording is switched off for the rest
of the process. With ``[redis] required = true`` every task that would run fails instead, with that error.
"""
from __future__ import annotations

import atexit
import datetime
import getpass
import json
import logging
import os
import re
import secrets
import shlex
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Iterable

import luigi
import luigi.interface
import luigi.retcodes
import redis as redis_lib
from redis.backoff import NoBackoff
from redis.retry import Retry

from tasks.config import redis as redis_config

log = logging.getLogger("winepipe.runmeta")

RUN_ID_ENV = "WINEPIPE_RUN_ID"
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9._:@+-]{1,120}$")
ERROR_LINES = 20

# Run statuses, worst last: a run's status is the worst of what its exit code and its tasks say.
RUN_STATUSES = ("running", "succeeded", "incomplete", "failed")
# Task statuses.
PENDING, ALREADY_DONE, MISSING_DATA, SCHEDULING_ERROR = "pending", "already_done", "missing_data", "scheduling_error"
RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"


class RunMetadataUnavailable(RuntimeError):
    """Redis is unreachable and ``[redis] required = true``."""


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).isoformat(timespec="milliseconds")


def new_run_id() -> str:
    """``<UTC timestamp>-<6 hex>``: sorts by time and never collides in practice."""
    return f"{utc_now():%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def valid_run_id(run_id: str) -> str:
    if not _RUN_ID_RE.match(run_id):
        raise ValueError(f"run id {run_id!r}: use 1-120 characters of A-Z a-z 0-9 . _ : @ + -")
    return run_id


# ---------------------------------------------------------------------------------------------------------------
# The store: the only code that knows the key layout.
# ---------------------------------------------------------------------------------------------------------------
_SET_IF_UNSETTLED = """
local s = redis.call('HGET', KEYS[1], 'status')
if (not s) or s == 'pending' then redis.call('HSET', KEYS[1], 'status', ARGV[1]) end
return s
"""


class RunStore:
    """Reads and writes runs under one key prefix; every write refreshes the keys' TTL."""

    def __init__(self, client: redis_lib.Redis, prefix: str, retention_days: int) -> None:
        self.r = client
        self.prefix = prefix
        self.ttl = max(1, int(retention_days * 86400))
        self._set_if_unsettled = client.register_script(_SET_IF_UNSETTLED)

    # -- keys ------------------------------------------------------------------------------------
    def run_key(self, run_id: str) -> str:
        return f"{self.prefix}run:{run_id}"

    def tasks_key(self, run_id: str) -> str:
        return f"{self.prefix}run:{run_id}:tasks"

    def task_key(self, run_id: str, task_id: str) -> str:
        return f"{self.prefix}run:{run_id}:task:{task_id}"

    def dates_key(self, run_id: str) -> str:
        return f"{self.prefix}run:{run_id}:dates"

    @property
    def runs_index(self) -> str:
        return f"{self.prefix}runs"

    def batch_index(self, date: str) -> str:
        return f"{self.prefix}batch:{date}:runs"

    # -- writes ----------------------------------------------------------------------------------
    def begin_run(self, run_id: str, started: float, fields: dict[str, Any]) -> None:
        key = self.run_key(run_id)
        p = self.r.pipeline()
        for name, value in fields.items():
            p.hsetnx(key, name, _text(value))
        p.expire(key, self.ttl)
        p.zadd(self.runs_index, {run_id: started}, nx=True)
        p.zremrangebyscore(self.runs_index, "-inf", time.time() - self.ttl)
        p.expire(self.runs_index, self.ttl)
        p.execute()

    def finish_run(self, run_id: str, fields: dict[str, Any]) -> None:
        key = self.run_key(run_id)
        p = self.r.pipeline()
        p.hset(key, mapping={k: _text(v) for k, v in fields.items()})
        p.expire(key, self.ttl)
        p.execute()

    def record_task(self, run_id: str, run_started: float, task_id: str, *, seen: float,
                    new: dict[str, Any] | None = None, fields: dict[str, Any] | None = None,
                    unsettled_status: str | None = None, incr: dict[str, int] | None = None,
                    dates: Iterable[str] = ()) -> None:
        """One task's update: ``new`` fields only if unset, ``fields`` always, ``unsettled_status`` only
        over no status or ``pending``."""
        key = self.task_key(run_id, task_id)
        p = self.r.pipeline()
        p.zadd(self.tasks_key(run_id), {task_id: seen}, nx=True)
        for name, value in (new or {}).items():
            p.hsetnx(key, name, _text(value))
        if fields:
            p.hset(key, mapping={k: _text(v) for k, v in fields.items()})
        for name, amount in (incr or {}).items():
            p.hincrby(key, name, amount)
        if unsettled_status:
            self._set_if_unsettled(keys=[key], args=[unsettled_status], client=p)
        for date in dates:
            p.sadd(self.dates_key(run_id), date)
            p.zadd(self.batch_index(date), {run_id: run_started}, nx=True)
            p.zremrangebyscore(self.batch_index(date), "-inf", time.time() - self.ttl)
            p.expire(self.batch_index(date), self.ttl)
            p.expire(self.dates_key(run_id), self.ttl)
        for k in (key, self.tasks_key(run_id), self.run_key(run_id)):
            p.expire(k, self.ttl)
        p.execute()

    # -- reads (no KEYS/SCAN: indexes only) -------------------------------------------------------
    def latest_run_ids(self, limit: int = 20) -> list[str]:
        return self.r.zrevrange(self.runs_index, 0, max(0, limit - 1))

    def batch_run_ids(self, date: str, limit: int = 20) -> list[str]:
        return self.r.zrevrange(self.batch_index(date), 0, max(0, limit - 1))

    def runs(self, run_ids: list[str]) -> list[dict]:
        """The runs that still exist (an index entry may outlive its run's keys by a few seconds)."""
        p = self.r.pipeline()
        for run_id in run_ids:
            p.hgetall(self.run_key(run_id))
            p.smembers(self.dates_key(run_id))
            p.zcard(self.tasks_key(run_id))
        raw = p.execute()
        out = []
        for i, run_id in enumerate(run_ids):
            fields, dates, ntasks = raw[3 * i], raw[3 * i + 1], raw[3 * i + 2]
            if fields:
                out.append(run_view(run_id, fields, sorted(dates), ntasks))
        return out

    def run(self, run_id: str) -> dict | None:
        found = self.runs([run_id])
        return found[0] if found else None

    def tasks(self, run_id: str) -> list[dict]:
        task_ids = self.r.zrange(self.tasks_key(run_id), 0, -1)
        p = self.r.pipeline()
        for task_id in task_ids:
            p.hgetall(self.task_key(run_id, task_id))
        return [task_view(task_id, fields) for task_id, fields in zip(task_ids, p.execute()) if fields]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _num(value: str | None, kind=float):
    if value in (None, ""):
        return None
    try:
        return kind(value)
    except ValueError:
        return None


def _json(value: str | None):
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value


def run_view(run_id: str, f: dict[str, str], dates: list[str], ntasks: int) -> dict:
    """A run as ``python -m tasks.runs --json`` prints it (the documented, stable format)."""
    return {
        "run_id": run_id,
        "status": f.get("status") or "running",
        "started_at": f.get("started_at") or None,
        "ended_at": f.get("ended_at") or None,
        "duration_s": _num(f.get("duration_s")),
        "exit_code": _num(f.get("exit_code"), int),
        "finalized_by": f.get("finalized_by") or None,
        "host": f.get("host") or None,
        "pid": _num(f.get("pid"), int),
        "user": f.get("user") or None,
        "command": f.get("command") or None,
        "scheduler": f.get("scheduler") or None,
        "batch_dates": dates,
        "task_count": ntasks,
    }


def task_view(task_id: str, f: dict[str, str]) -> dict:
    attempts = _num(f.get("attempts"), int) or 0
    return {
        "task_id": task_id,
        "family": f.get("family") or None,
        "params": _json(f.get("params")) or {},
        "status": f.get("status") or PENDING,
        "started_at": f.get("started_at") or None,
        "ended_at": f.get("ended_at") or None,
        "duration_s": _num(f.get("duration_s")),
        "attempts": attempts,
        "retries": max(0, attempts - 1),
        "error": f.get("error") or None,
        "metrics": _json(f.get("metrics")),
    }


# ---------------------------------------------------------------------------------------------------------------
# The process's connection and current run.
# ---------------------------------------------------------------------------------------------------------------
_store: RunStore | None | bool = None  # None: not tried yet; False: switched off after a failure
_warned = False


def connect() -> RunStore:
    """A store on the configured Redis; raises redis.RedisError when it does not answer."""
    cfg = opts = redis_config()
    client = redis_lib.Redis(
        host=cfg.host, port=cfg.port, db=cfg.db, password=cfg.password or None, decode_responses=True,
        socket_connect_timeout=opts.socket_timeout, socket_timeout=opts.socket_timeout,
        retry=Retry(NoBackoff(), 0))
    client.ping()
    return RunStore(client, cfg.key_prefix, opts.retention_days)


def _get_store() -> RunStore | None:
    global _store
    if _store is None:
        try:
            _store = connect()
        except redis_lib.RedisError as exc:
            _switch_off(exc)
    return _store or None


def _switch_off(exc: BaseException) -> None:
    global _store, _warned
    _store = False
    if _warned:
        return
    _warned = True
    cfg = redis_config()
    if redis_config().required:
        log.error("run metadata cannot be recorded: Redis at %s:%s is unreachable (%s); [redis] required = true, "
                  "so tasks will fail instead of running", cfg.host, cfg.port, exc)
    else:
        log.warning("run metadata is NOT being recorded: Redis at %s:%s is unreachable (%s). The pipeline goes on "
                    "without it; set [redis] required = true to make this an error", cfg.host, cfg.port, exc)


def reset() -> None:
    """Forget the connection, the warning and the current run (tests, and a new configuration)."""
    global _store, _warned, _run
    _store, _warned, _run = None, False, None


@dataclass
class Run:
    run_id: str
    started: float
    pid: int
    command: str
    finalized: bool = False
    begun: bool = False
    scheduler: str | None = None
    seen: set = field(default_factory=set)


_run: Run | None = None


def _scheduler_url() -> str:
    try:
        core = luigi.interface.core()
        if core.local_scheduler:
            return "local"
        return core.scheduler_url or f"http://{core.scheduler_host}:{core.scheduler_port}/"
    except Exception:  # noqa: BLE001 - outside a luigi command line
        return ""


def start_run(run_id: str | None = None, command: str | None = None, scheduler: str | None = None) -> str:
    """Starts a new run in this process (events until ``finish_run`` belong to it); returns its id."""
    global _run
    run_id = valid_run_id(run_id) if run_id else _run_id_from_env()
    _run = Run(run_id=run_id, started=time.time(), pid=os.getpid(),
               command=command if command is not None else shlex.join(sys.argv), scheduler=scheduler)
    _begin(_run)
    return run_id


def _run_id_from_env() -> str:
    env_id = os.environ.get(RUN_ID_ENV, "")
    if env_id and _RUN_ID_RE.match(env_id):
        return env_id
    if env_id:
        log.warning("%s=%r is not a usable run id; using a generated one", RUN_ID_ENV, env_id)
    return new_run_id()


def current_run_id() -> str | None:
    return _run.run_id if _run else None


def _current() -> Run:
    """The run events belong to; a plain ``luigi`` command line gets one on its first event."""
    global _run
    if _run is None or _run.finalized:
        _run = Run(run_id=_run_id_from_env(), started=time.time(),
                   pid=os.getpid(), command=shlex.join(sys.argv))
        atexit.register(_finish_at_exit, _run)
    if not _run.begun:
        _begin(_run)
    return _run


def _begin(run: Run) -> None:
    run.begun = True
    store = _get_store()
    if not store:
        return
    try:
        store.begin_run(run.run_id, run.started, {
            "status": RUNNING, "started_at": iso(run.started), "host": socket.gethostname(), "pid": run.pid,
            "user": getpass.getuser(), "command": run.command,
            "scheduler": run.scheduler if run.scheduler is not None else _scheduler_url(),
        })
    except redis_lib.RedisError as exc:
        _switch_off(exc)


def _status_from_tasks(tasks: list[dict]) -> str:
    statuses = {t["status"] for t in tasks}
    if statuses & {FAILED, SCHEDULING_ERROR}:
        return "failed"
    if statuses & {PENDING, RUNNING, MISSING_DATA}:
        return "incomplete"
    return "succeeded"


def _status_from_exit_code(code: int) -> str:
    if code == 0:
        return "succeeded"
    rc = luigi.retcodes.retcode()
    if code in (rc.task_failed, rc.scheduling_error, rc.unhandled_exception):
        return "failed"
    return "incomplete"


def finish_run(exit_code: int | None = None, finalized_by: str = "entrypoint") -> str | None:
    """Closes the current run: status, end time and exit code. Returns the status (None if nothing is recorded)."""
    run = _run
    if run is None or run.finalized:
        return None
    run.finalized = True
    store = _get_store()
    if not store:
        return None
    try:
        status = _status_from_tasks(store.tasks(run.run_id))
        if exit_code is not None:
            by_code = _status_from_exit_code(exit_code)
            status = max(status, by_code, key=RUN_STATUSES.index)
        ended = time.time()
        store.finish_run(run.run_id, {
            "status": status, "ended_at": iso(ended), "duration_s": round(ended - run.started, 3),
            "exit_code": "" if exit_code is None else exit_code, "finalized_by": finalized_by,
        })
        return status
    except redis_lib.RedisError as exc:
        _switch_off(exc)
        return None


def _finish_at_exit(run: Run) -> None:
    # Forked worker processes leave through os._exit and never get here; only the process that began the run.
    if run is _run and os.getpid() == run.pid and not run.finalized:
        finish_run(None, finalized_by="atexit")


def build(tasks: list[luigi.Task], run_id: str | None = None, **env_params) -> tuple[str, Any]:
    """``luigi.build`` as one recorded run; returns (run id, LuigiRunResult)."""
    scheduler = "local" if env_params.get("local_scheduler") else env_params.get("scheduler_url")
    rid = start_run(run_id, command=f"build({', '.join(str(t) for t in tasks)})", scheduler=scheduler)
    result = luigi.build(tasks, detailed_summary=True, **env_params)
    code = 0 if result.status.name in ("SUCCESS", "SUCCESS_WITH_RETRY") else None
    finish_run(code, finalized_by="build")
    return rid, result


# ---------------------------------------------------------------------------------------------------------------
# Event handlers: each records one fact; none may raise (Luigi logs and swallows handler errors anyway).
# ---------------------------------------------------------------------------------------------------------------
def _batch_dates(task: luigi.Task) -> list[str]:
    # The batch is a task's ``date`` parameter (BatchTask); RangeDaily's start/stop are not batches.
    value = task.param_kwargs.get("date")
    return [value.isoformat()] if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime) else []


def _record(task: luigi.Task, **kwargs) -> None:
    try:
        run = _current()
        store = _get_store()
        if not store:
            return
        new = kwargs.pop("new", {})
        first = (run.run_id, task.task_id) not in run.seen
        dates: list[str] = []
        if first:
            run.seen.add((run.run_id, task.task_id))
            new = {"family": task.task_family, "params": json.dumps(task.to_str_params(), sort_keys=True),
                   **new}
            dates = _batch_dates(task)
        store.record_task(run.run_id, run.started, task.task_id, seen=time.time(), new=new, dates=dates, **kwargs)
    except redis_lib.RedisError as exc:
        _switch_off(exc)
    except Exception:  # noqa: BLE001 - metadata must never break a task
        log.exception("could not record run metadata for %s", task)


def error_text(exc: BaseException | str) -> str:
    """The first lines of an error, and where it was raised."""
    if isinstance(exc, BaseException):
        lines = "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()[:ERROR_LINES]
        frames = traceback.extract_tb(exc.__traceback__)
        if frames:
            last = frames[-1]
            lines.append(f"  at {last.filename}:{last.lineno} in {last.name}")
        return "\n".join(lines)
    return "\n".join(str(exc).strip().splitlines()[:ERROR_LINES])


@luigi.Task.event_handler(luigi.Event.DEPENDENCY_DISCOVERED)
def _on_dependency_discovered(task: luigi.Task, dependency: luigi.Task) -> None:
    _record(task, new={"status": PENDING})
    _record(dependency, new={"status": PENDING})


@luigi.Task.event_handler(luigi.Event.DEPENDENCY_PRESENT)
def _on_dependency_present(task: luigi.Task) -> None:
    _record(task, unsettled_status=ALREADY_DONE)


@luigi.Task.event_handler(luigi.Event.DEPENDENCY_MISSING)
def _on_dependency_missing(task: luigi.Task) -> None:
    # Fired for an external task whose data is not there, and for any task whose complete() raised.
    external = getattr(task, "run", None) is None  # how Luigi itself tells an ExternalTask
    _record(task, unsettled_status=MISSING_DATA if external else SCHEDULING_ERROR)


@luigi.Task.event_handler(luigi.Event.BROKEN_TASK)
def _on_broken_task(task: luigi.Task, exc: BaseException) -> None:
    _record(task, fields={"status": SCHEDULING_ERROR, "error": error_text(exc)})


@luigi.Task.event_handler(luigi.Event.START)
def _on_start(task: luigi.Task) -> None:
    started = time.time()
    task._runmeta_started = started
    _record(task, fields={"status": RUNNING, "started_at": iso(started), "ended_at": "", "error": "",
                          "pid": os.getpid()}, incr={"attempts": 1})
    if not _get_store() and redis_config().required:
        cfg = redis_config()
        message = (f"[redis] required = true and Redis at {cfg.host}:{cfg.port} is unreachable: refusing to run "
                   f"{task.task_id} without recording its run metadata")

        def refuse(*_args, **_kwargs):
            raise RunMetadataUnavailable(message)

        task.run = refuse  # the worker calls task.run() right after this event


@luigi.Task.event_handler(luigi.Event.PROCESSING_TIME)
def _on_processing_time(task: luigi.Task, seconds: float) -> None:
    task._runmeta_processing = seconds


def _ended(task: luigi.Task) -> dict[str, Any]:
    ended = time.time()
    started = getattr(task, "_runmeta_started", None)
    return {"ended_at": iso(ended), "duration_s": round(ended - started, 3) if started else ""}


@luigi.Task.event_handler(luigi.Event.SUCCESS)
def _on_success(task: luigi.Task) -> None:
    fields = {"status": SUCCEEDED, **_ended(task)}
    metrics = getattr(task, "metrics", None)
    if isinstance(metrics, dict):
        fields["metrics"] = json.dumps(metrics, sort_keys=True, default=str)
    _record(task, fields=fields)


@luigi.Task.event_handler(luigi.Event.FAILURE)
def _on_failure(task: luigi.Task, exc: BaseException) -> None:
    _record(task, fields={"status": FAILED, "error": error_text(exc), **_ended(task)})


@luigi.Task.event_handler(luigi.Event.PROCESS_FAILURE)
def _on_process_failure(task: luigi.Task, message: str) -> None:
    _record(task, fields={"status": FAILED, "error": error_text(message), **_ended(task)})


@luigi.Task.event_handler(luigi.Event.TIMEOUT)
def _on_timeout(task: luigi.Task, message: str) -> None:
    _record(task, fields={"status": FAILED, "error": error_text(message), **_ended(task)})
