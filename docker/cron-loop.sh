#!/bin/sh
# The cron service (compose profile "cron"): runs the project's cron wrapper, cron/winepipe-cron.sh (the latest
# daily batches with backfill, one recorded run, exit codes from [retcode]), every WINEPIPE_CRON_INTERVAL
# seconds, in the foreground, so no cron daemon is needed in the image. Overlapping runs cannot happen here
# (one loop), and the wrapper's Luigi process lock still guards against another scheduler running the same
# command. The wrapper logs to $WINEPIPE_LOG_DIR (the pipeline-logs volume); this loop prints one line per run.
#
#   docker/cron-loop.sh           the loop
#   docker/cron-loop.sh --health  the service's health check: the loop has shown a sign of life recently
#                                 (it writes a heartbeat before and after each run and every minute it waits)
set -u

INTERVAL="${WINEPIPE_CRON_INTERVAL:-3600}"
MAX_RUN="${WINEPIPE_CRON_MAX_RUN_SECONDS:-21600}"
HEARTBEAT="${WINEPIPE_CRON_HEARTBEAT:-/tmp/winepipe-cron.heartbeat}"
WRAPPER="${WINEPIPE_HOME:-/app}/cron/winepipe-cron.sh"

case "$INTERVAL$MAX_RUN" in *[!0-9]*|'') echo "cron-loop: WINEPIPE_CRON_INTERVAL and WINEPIPE_CRON_MAX_RUN_SECONDS must be whole seconds" >&2; exit 2 ;; esac

if [ "${1:-}" = "--health" ]; then
    # A run may take up to MAX_RUN seconds without a heartbeat; waiting writes one every minute.
    [ -f "$HEARTBEAT" ] || exit 1
    last=$(cat "$HEARTBEAT") || exit 1
    [ $(( $(date +%s) - last )) -le $(( MAX_RUN + 120 )) ]
    exit
fi

beat() { date +%s > "$HEARTBEAT"; }
trap 'exit 0' TERM INT

while :; do
    beat
    started=$(date -u +%FT%TZ)
    bash "$WRAPPER"
    rc=$?
    beat
    echo "cron-loop: run started $started exited $rc (log: ${WINEPIPE_LOG_DIR:-$WINEPIPE_HOME/log}); next in ${INTERVAL}s"
    waited=0
    while [ "$waited" -lt "$INTERVAL" ]; do
        step=$(( INTERVAL - waited < 60 ? INTERVAL - waited : 60 ))
        sleep "$step" &
        wait $!
        waited=$(( waited + step ))
        beat
    done
done
