#!/usr/bin/env bash
# winepipe's cron entry point: the latest daily batches, with backfill of missed days, as one recorded run.
#
#   cron/winepipe-cron.sh            (see cron/crontab.example)
#
# Runs  python -m tasks.runs run RangeDaily --of LoadWine --start $WINEPIPE_START --days-back $WINEPIPE_DAYS_BACK
# i.e. every LoadWine of the last N days (never before the go-live date) that is not complete yet, oldest first.
# An overlapping invocation on the same machine exits with already_running (10) instead of running the batch twice:
# the runner holds a flock on WINEPIPE_LOCK_FILE for the whole run, and as a second guard the command line is
# identical on every invocation (Luigi's process lock keys on the md5 of the whole command line). The central
# scheduler keeps a task to one worker across machines. The run id travels in WINEPIPE_RUN_ID.
#
# Exit codes (luigi.cfg [retcode]; the highest applicable one wins):
#    0 succeeded (or nothing to do)       20 missing_data: a file has not arrived yet (retried by the next run)
#   10 already_running                    25 not_run       30 task_failed       35 scheduling_error
#   40 unhandled_exception                (and the wrapper's own: 2 = bad setting)
#
# Settings (environment; defaults in brackets):
#   WINEPIPE_HOME       the project directory                          [this script's parent directory]
#   WINEPIPE_START      go-live date, never backfill before it        [2026-01-01]
#   WINEPIPE_DAYS_BACK  look-back in days (RangeDaily's default is 100) [7]
#   WINEPIPE_TASK_LIMIT most batches per run (RangeDaily's default 50) [10]
#   WINEPIPE_WORKERS    luigi --workers                                [3]
#   WINEPIPE_OF         the daily task                                 [LoadWine]
#   WINEPIPE_MODULE     luigi --module                                 [tasks]
#   WINEPIPE_LOG_DIR    log directory, one file per day                [$WINEPIPE_HOME/log]
#   WINEPIPE_LOG_KEEP   days of log files kept                         [30]
#   WINEPIPE_RUN_ID     the run id recorded in Redis                   [cron-<UTC time>-<pid>]
#   WINEPIPE_LOCK_FILE  one run at a time (flock)      [$WINEPIPE_LOG_DIR/.winepipe-cron-<module>-<of>.lock]
#   LUIGI_CONFIG_PATH   production overrides (conf/production.cfg.example)
set -uo pipefail

HOME_DIR="${WINEPIPE_HOME:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
START="${WINEPIPE_START:-2026-01-01}"
DAYS_BACK="${WINEPIPE_DAYS_BACK:-7}"
TASK_LIMIT="${WINEPIPE_TASK_LIMIT:-10}"
WORKERS="${WINEPIPE_WORKERS:-3}"
OF="${WINEPIPE_OF:-LoadWine}"
MODULE="${WINEPIPE_MODULE:-tasks}"
LOG_DIR="${WINEPIPE_LOG_DIR:-$HOME_DIR/log}"
LOG_KEEP="${WINEPIPE_LOG_KEEP:-30}"
PYTHON="${WINEPIPE_PYTHON:-$HOME_DIR/.venv/bin/python}"

for n in "$DAYS_BACK" "$TASK_LIMIT" "$WORKERS" "$LOG_KEEP"; do
  [[ "$n" =~ ^[0-9]+$ ]] || { echo "winepipe-cron: not a number: $n" >&2; exit 2; }
done
date -d "$START" +%F >/dev/null 2>&1 || { echo "winepipe-cron: WINEPIPE_START is not a date: $START" >&2; exit 2; }

export WINEPIPE_RUN_ID="${WINEPIPE_RUN_ID:-cron-$(date -u +%Y%m%dT%H%M%SZ)-$$}"

# Logs: one file per UTC day, appended to by every run of that day; files older than LOG_KEEP days go.
mkdir -p "$LOG_DIR" || exit 2
LOG="$LOG_DIR/winepipe-$(date -u +%F).log"
find "$LOG_DIR" -maxdepth 1 -name 'winepipe-*.log' -mtime +"$LOG_KEEP" -delete 2>/dev/null

# One invocation at a time on this machine: the runner takes a flock on this file before it starts Luigi (see
# exclusive_lock in tasks/runs.py); while another run holds it, it records the run and exits already_running.
LOCK_FILE="${WINEPIPE_LOCK_FILE:-$LOG_DIR/.winepipe-cron-$MODULE-$OF.lock}"

cd "$HOME_DIR" || exit 2
{
  echo "=== $(date -u +%FT%TZ) run $WINEPIPE_RUN_ID: RangeDaily --of $OF --start $START --days-back $DAYS_BACK"
} >>"$LOG"
"$PYTHON" -m tasks.runs run --lock-file "$LOCK_FILE" --module "$MODULE" RangeDaily --of "$OF" --start "$START" \
  --days-back "$DAYS_BACK" --task-limit "$TASK_LIMIT" --workers "$WORKERS" >>"$LOG" 2>&1
rc=$?
case $rc in
  0) what="succeeded" ;; 10) what="already running" ;; 20) what="missing data: a file has not arrived yet" ;;
  25) what="not run" ;; 30) what="a task failed" ;; 35) what="scheduling error" ;; 40) what="unhandled exception" ;;
  *) what="unexpected exit code" ;;
esac
echo "=== $(date -u +%FT%TZ) run $WINEPIPE_RUN_ID: exit $rc ($what); details: python -m tasks.runs show $WINEPIPE_RUN_ID" >>"$LOG"
exit $rc
