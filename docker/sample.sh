#!/bin/sh
# The sample job (pipeline image): puts today's (UTC) generated sample batch into the sftp-data volume, which
# the sftp service serves read-only at /incoming. Skipped when the batch is already there (the generator is
# deterministic and writes each file under a temporary name first). For a real vendor drop, remove this
# service and mount the drop at /srv/sftp/incoming on the sftp service instead (see docker-compose.yml).
set -eu

OUT_ROOT="${SAMPLE_DIR:-/var/lib/winepipe/sample}"
DATE="${WINEPIPE_SAMPLE_DATE:-$(date -u +%F)}"
SCALE="${WINEPIPE_SAMPLE_SCALE:-1.0}"
OUT="$OUT_ROOT/$DATE"

if [ -s "$OUT/winemag-data_first150k.csv" ] && [ -s "$OUT/winemag-data-130k-v2.json" ] \
        && [ -s "$OUT/winemag-data-130k-v2.csv" ]; then
    echo "sample: batch $DATE already in $OUT"
    exit 0
fi
echo "sample: generating batch $DATE at scale $SCALE into $OUT"
exec python -m tasks.sample --date "$DATE" --scale "$SCALE" --out "$OUT"
