#!/bin/sh
# The minio-init job (image minio/mc): creates the bucket and the pipeline's own MinIO account, limited by a
# policy to that bucket. The MinIO root account is used here only; the pipeline never sees it.
# Idempotent: safe on every `docker compose up` (mc mb --ignore-existing; user add and policy create update).
# Only shell built-ins besides mc: the mc image has no grep.
set -eu

: "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}" "${BUCKET:?}"
: "${PIPELINE_ACCESS_KEY:?}" "${PIPELINE_SECRET_KEY:?}"
ALIAS=stack
POLICY=winepipe-pipeline

mc alias set "$ALIAS" "${MINIO_URL:-http://minio:9000}" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "$ALIAS/$BUCKET"

# What the pipeline does with S3 (tasks/extract.py, tasks/transform.py, tasks/load.py): head/list the bucket,
# multipart uploads (and aborting stale ones), server-side copy out of the staging prefix, get, put, delete.
printf '%s' '{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow",
     "Action": ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
     "Resource": ["arn:aws:s3:::'"$BUCKET"'"]},
    {"Effect": "Allow",
     "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts"],
     "Resource": ["arn:aws:s3:::'"$BUCKET"'/*"]}
  ]
}' > /tmp/winepipe-policy.json
mc admin policy create "$ALIAS" "$POLICY" /tmp/winepipe-policy.json
mc admin user add "$ALIAS" "$PIPELINE_ACCESS_KEY" "$PIPELINE_SECRET_KEY"
# Attaching an already attached policy failed in mc releases before minio/mc#5058 (2024-10): tolerate exactly
# that case by checking the user's policies.
if ! mc admin policy attach "$ALIAS" "$POLICY" --user "$PIPELINE_ACCESS_KEY"; then
    case "$(mc admin user info "$ALIAS" "$PIPELINE_ACCESS_KEY")" in
        *"$POLICY"*) echo "minio-init: $POLICY was already attached" ;;
        *) echo "minio-init: could not attach $POLICY to the pipeline's account" >&2; exit 1 ;;
    esac
fi
echo "minio-init: bucket $BUCKET and the pipeline's account are ready"
