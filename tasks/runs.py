"""``python -m tasks.runs``: the pipeline's runs, as recorded in Redis (see tasks/runmeta.py).

    python -m tasks.runs list [--limit N] [--json]     the latest runs, newest first
    python -m tasks.runs show RUN_ID [--json]          one run: its tasks, durations, counters and errors
    python -m tasks.runs batch DATE [--json]           the runs that touched a batch; the latest in full
    python -m tasks.runs run [--lock-file PATH] LUIGI_ARGS...
                                                       run Luigi as one recorded run (the cron entry point):
                                                       same arguments and exit codes as ``luigi --module tasks``;
                                                       with --lock-file, one run at a time per lock file

The JSON output (``--json``) is stable; its fields are documented in README.md ("Operating it").
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import fcntl
import json
import logging
import sys
from collections.abc import Iterator

import redis as redis_lib

from tasks import runmeta

JSON_FORMAT = "winepipe.runs/1"


# ---------------------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------------------
def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _when(stamp: str | None) -> str:
    return stamp.replace("T", " ")[:19] if stamp else "-"


def _task_label(task: dict) -> str:
    params = ", ".join(f"{k}={v}" for k, v in sorted(task["params"].items()))
    return f"{task['family']}({params})"


def _metrics_lines(metrics) -> list[str]:
    if not metrics:
        return []
    if not isinstance(metrics, dict):
        return [str(metrics)]
    flat = {k: v for k, v in metrics.items() if not isinstance(v, dict)}
    lines = ["  ".join(f"{k}={_fmt(v)}" for k, v in sorted(flat.items()))] if flat else []
    for key, value in sorted((k, v) for k, v in metrics.items() if isinstance(v, dict)):
        lines.append(f"{key}: " + "  ".join(f"{k}={_fmt(v)}" for k, v in sorted(value.items())))
    return lines


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def runs_table(runs: list[dict]) -> str:
    rows = [("RUN ID", "STATUS", "EXIT", "STARTED (UTC)", "DURATION", "TASKS", "BATCHES", "HOST")]
    for r in runs:
        dates = r["batch_dates"]
        batches = ", ".join(dates) if len(dates) <= 3 else f"{dates[0]} .. {dates[-1]} ({len(dates)})"
        rows.append((r["run_id"], r["status"], "-" if r["exit_code"] is None else str(r["exit_code"]),
                     _when(r["started_at"]), _duration(r["duration_s"]), str(r["task_count"]), batches or "-",
                     r["host"] or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows) + "\n"


def run_text(run: dict) -> str:
    out = [f"run {run['run_id']}: {run['status']}"
           + ("" if run["exit_code"] is None else f" (exit code {run['exit_code']})"),
           f"  started    {_when(run['started_at'])} UTC    ended {_when(run['ended_at'])}    "
           f"duration {_duration(run['duration_s'])}",
           f"  host       {run['host']} (pid {run['pid']}, user {run['user']})",
           f"  command    {run['command']}",
           f"  scheduler  {run['scheduler'] or '-'}",
           f"  batches    {', '.join(run['batch_dates']) or '-'}",
           ""]
    tasks = run.get("tasks", [])
    rows = [("TASK", "STATUS", "STARTED (UTC)", "DURATION", "RETRIES")]
    for t in tasks:
        rows.append((_task_label(t), t["status"], _when(t["started_at"]), _duration(t["duration_s"]),
                     str(t["retries"])))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        out.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if i:
            for line in _metrics_lines(tasks[i - 1]["metrics"]):
                out.append(f"    {line}")
    failed = [t for t in tasks if t["error"]]
    for t in failed:
        out.append("")
        out.append(f"error in {_task_label(t)}:")
        out.extend(f"    {line}" for line in t["error"].splitlines())
    return "\n".join(out) + "\n"


def _full(store: runmeta.RunStore, run_id: str) -> dict | None:
    run = store.run(run_id)
    if run is not None:
        run["tasks"] = store.tasks(run_id)
        errors = [f"{t['task_id']}: {t['error']}" for t in run["tasks"] if t["error"]]
        run["error"] = "\n".join(errors) or None
    return run


def _emit(payload: dict, as_json: bool, text: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps({"format": JSON_FORMAT, **payload}, indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(text)


def cmd_list(store, args) -> int:
    runs = store.runs(store.latest_run_ids(args.limit))
    _emit({"runs": runs}, args.json, runs_table(runs) if runs else "no runs recorded\n")
    return 0


def cmd_show(store, args) -> int:
    run = _full(store, args.run_id)
    if run is None:
        sys.stderr.write(f"no run {args.run_id!r} (unknown, or older than [redis] retention_days)\n")
        return 1
    _emit({"run": run}, args.json, run_text(run))
    return 0


def cmd_batch(store, args) -> int:
    date = args.date.isoformat()
    runs = store.runs(store.batch_run_ids(date, args.limit))
    latest = _full(store, runs[0]["run_id"]) if runs else None
    if not runs:
        text = f"no runs recorded for batch {date}\n"
    else:
        text = f"batch {date}: {len(runs)} run(s), newest first\n" + runs_table(runs) + "\nlatest:\n" + run_text(latest)
    _emit({"date": date, "latest": latest, "runs": runs}, args.json, text)
    return 0


# ---------------------------------------------------------------------------------------------------------------
# Running: Luigi's own command line and exit codes, as one recorded run
# ---------------------------------------------------------------------------------------------------------------
def cmd_run(luigi_args: list[str], lock_file: str | None = None) -> int:
    """Runs Luigi with ``luigi_args`` as one recorded run; its exit code.

    ``lock_file``: one run at a time per file. While another run holds it, this one is recorded and ends at once
    with ``[retcode] already_running`` (see ``exclusive_lock``).
    """
    import luigi.cmdline_parser
    import luigi.retcodes

    if "--module" not in luigi_args:
        luigi_args = ["--module", "tasks", *luigi_args]
    command = " ".join(["python -m tasks.runs run", *luigi_args])
    try:
        # Parsed as Luigi will parse it, so the run records the scheduler the command line names.
        with luigi.cmdline_parser.CmdlineParser.global_instance(luigi_args):
            runmeta.start_run(command=command)
    except (Exception, SystemExit):  # noqa: BLE001 - a bad command line: Luigi reports it below
        if runmeta.current_run_id() is None:
            runmeta.start_run(command=command)
    log = logging.getLogger("winepipe.runmeta")
    code = 0
    with exclusive_lock(lock_file) as free:
        if not free:
            code = luigi.retcodes.retcode().already_running
            log.warning("run %s: another run holds %s; nothing was run (already running)",
                        runmeta.current_run_id(), lock_file)
        else:
            try:
                luigi.retcodes.run_with_retcodes(luigi_args)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    status = runmeta.finish_run(code, finalized_by="entrypoint")
    log.info("run %s: %s (exit code %d)", runmeta.current_run_id(), status or "not recorded", code)
    return code


@contextlib.contextmanager
def exclusive_lock(path: str | None) -> Iterator[bool]:
    """An exclusive ``flock`` on ``path`` for the block; yields False when another process holds it.

    The lock is held while the file is open here and in Luigi's forked worker processes, which inherit it (not
    by spark-submit: Python starts subprocesses without inherited descriptors). The kernel releases it however
    the process ends, so a killed run leaves no stale lock, and no recycled pid can pass for a running run (the
    trap of Luigi's pid-file lock, which stays as a second guard). Without ``path``, and where the file system
    cannot lock (some NFS or FUSE mounts, logged), it yields True: the run goes on under Luigi's lock alone.
    """
    if not path:
        yield True
        return
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        except OSError as exc:
            logging.getLogger("winepipe.runmeta").warning(
                "cannot lock %s (%s); relying on Luigi's process lock alone", path, exc)
        yield True


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:
        rest, lock_file = argv[1:], None
        if rest[:1] == ["--lock-file"] and len(rest) > 1:
            rest, lock_file = rest[2:], rest[1]
        elif rest[:1] and rest[0].startswith("--lock-file="):
            rest, lock_file = rest[1:], rest[0].partition("=")[2]
        return cmd_run(rest, lock_file)
    parser = argparse.ArgumentParser(prog="python -m tasks.runs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_list = sub.add_parser("list", help="the latest runs")
    p_list.add_argument("--limit", type=int, default=20)
    p_show = sub.add_parser("show", help="one run in full")
    p_show.add_argument("run_id")
    p_batch = sub.add_parser("batch", help="the runs of a batch, the latest in full")
    p_batch.add_argument("date", type=datetime.date.fromisoformat)
    p_batch.add_argument("--limit", type=int, default=20)
    sub.add_parser("run", help="[--lock-file PATH] LUIGI_ARGS...: run Luigi as one recorded run (exit codes of "
                               "[retcode]; one run at a time per lock file)")
    for p in (p_list, p_show, p_batch):
        p.add_argument("--json", action="store_true", help=f"machine-readable output ({JSON_FORMAT})")
    args = parser.parse_args(argv)
    try:
        store = runmeta.connect()
        return {"list": cmd_list, "show": cmd_show, "batch": cmd_batch}[args.command](store, args)
    except redis_lib.RedisError as exc:
        sys.stderr.write(f"Redis is unreachable: {exc}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
