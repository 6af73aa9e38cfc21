"""Extract: a source file of a batch, streamed from the vendor's SFTP drop to the S3 raw zone, verified.

How a transfer stays atomic and verified (the final key only ever appears complete, with its metadata):

* A file of at most one part is read into memory, counted, hashed and checked, then written with a single
  PutObject that carries the metadata. PutObject is atomic.
* A larger file is streamed with a multipart upload to a *staging* key (``<staging_prefix>/<final key>``),
  because multipart metadata must be given at CreateMultipartUpload, before the SHA-256 is known. Bytes are
  counted and hashed as they pass; only when the count equals the remote stat size (and the remote size and
  mtime did not move) is the upload completed. A server-side copy (boto3's managed ``copy``: one CopyObject
  up to ``[extract] copy_part_size_mb``, parallel UploadPartCopy above; S3 caps CopyObject at 5 GiB) then
  writes the final key with ``MetadataDirective=REPLACE`` and the metadata, guarded by ``CopySourceIfMatch``
  on the staging ETag; the staging key is deleted afterwards. CopyObject and CompleteMultipartUpload are
  atomic, so the final key appears whole or not at all.
* Any failure or interruption aborts the multipart upload and deletes the staging key. A killed process
  cannot clean up, so every attempt starts by aborting open multipart uploads of its final and staging keys
  and deleting its staging key. (A bucket lifecycle rule AbortIncompleteMultipartUpload is a good backstop.)

Streaming and memory: the task's thread reads one part at a time from SFTP (``[sftp] read_ahead_mb`` of read
requests stay in flight across the parts, see sftp.RemoteFile) into one of ``upload_threads + read_ahead_parts``
reusable part buffers, hashes it and hands it to a small pool of upload threads; the buffer returns to the pool
when its upload is done. The reader waits for a free buffer when uploads fall behind, so memory is those buffers
plus the read-ahead, whatever the file size, while download and upload overlap. Nothing touches local disk.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import boto3
import botocore.exceptions
import luigi
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig

from tasks import sftp
from tasks.base import BatchTask
from tasks.config import source as configured_source
from tasks.config import wine
from tasks.retry import RetryPolicy
from tasks.s3 import S3_MAX_PART, S3_MAX_PARTS, S3_MIN_PART, MiB, s3_options, s3_target, split_url

log = logging.getLogger("winepipe.extract")


CONTENT_TYPES = {"csv": "text/csv", "json": "application/json"}

# Error codes S3 (and MinIO) use for throttling and momentary trouble; 5xx are transient as well.
_S3_TRANSIENT_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestTimeTooSkewed",
                       "InternalError", "ServiceUnavailable", "RequestLimitExceeded", "TooManyRequests"}


class extract(luigi.Config):  # noqa: N801 - the section name
    """``[extract]``: how a file is streamed from SFTP to S3."""

    part_size_mb = luigi.IntParameter(default=8, description="multipart part size in MiB (at least 5)")
    upload_threads = luigi.IntParameter(default=3, description="parts uploaded in parallel")
    read_ahead_parts = luigi.IntParameter(default=1, description="parts read ahead while all uploads are busy")
    staging_prefix = luigi.Parameter(default="_staging", description="where unverified uploads live")
    retries = luigi.IntParameter(default=5, description="retries of a transient S3 error")
    retry_base_delay = luigi.FloatParameter(default=1.0, description="first backoff in seconds (doubles)")
    retry_max_delay = luigi.FloatParameter(default=30.0, description="longest backoff in seconds")
    progress_interval = luigi.FloatParameter(default=1.0, description="seconds between scheduler updates")
    copy_part_size_mb = luigi.IntParameter(
        default=5120, description="the verified upload is copied to its final key with one CopyObject up to "
                                  "this size, above it with parallel UploadPartCopy requests of this size")


class S3Error(RuntimeError):
    """A permanent S3 problem; the message says what to fix."""


class RemoteSource(Protocol):
    """What the transfer needs from a remote file (sftp.RemoteFile; tests substitute their own)."""

    size: int
    mtime: int
    description: str

    @property
    def mtime_iso(self) -> str: ...

    def read_into(self, offset: int, buffer: memoryview) -> int: ...

    def verify_unchanged(self) -> None: ...


@dataclasses.dataclass(frozen=True)
class TransferSettings:
    """``[extract]`` as plain values."""

    part_size: int = 8 * MiB
    upload_threads: int = 3
    read_ahead_parts: int = 1
    staging_prefix: str = "_staging"
    retry: RetryPolicy = RetryPolicy()
    progress_interval: float = 1.0
    copy_part_size: int = S3_MAX_PART

    @classmethod
    def from_config(cls) -> TransferSettings:
        cfg = extract()
        if cfg.part_size_mb * MiB < S3_MIN_PART:
            raise ValueError(f"[extract] part_size_mb = {cfg.part_size_mb}; S3 needs parts of at least 5 MiB")
        return cls(part_size=cfg.part_size_mb * MiB, upload_threads=max(1, cfg.upload_threads),
                   read_ahead_parts=max(0, cfg.read_ahead_parts), staging_prefix=cfg.staging_prefix.strip("/"),
                   retry=RetryPolicy(cfg.retries, cfg.retry_base_delay, cfg.retry_max_delay),
                   progress_interval=cfg.progress_interval,
                   copy_part_size=min(max(cfg.copy_part_size_mb * MiB, S3_MIN_PART), S3_MAX_PART))

    def part_size_for(self, size: int) -> int:
        """The configured part size, raised (to whole MiB) when the file would need more than 10,000 parts."""
        needed = -(-size // S3_MAX_PARTS)
        return max(self.part_size, -(-needed // MiB) * MiB)


@dataclasses.dataclass(frozen=True)
class TransferResult:
    """What a finished transfer moved, for the run metadata."""

    bytes: int
    seconds: float
    sha256: str

    def metrics(self) -> dict[str, Any]:
        """``{"bytes", "seconds", "sha256", "mb_per_s"}`` as the run-metadata handler stores them."""
        mb_per_s = self.bytes / MiB / self.seconds if self.seconds > 0 else 0.0
        return {"bytes": self.bytes, "seconds": round(self.seconds, 3), "sha256": self.sha256,
                "mb_per_s": round(mb_per_s, 2)}


# -- S3 errors and retries ---------------------------------------------------------------------------------
def s3_is_transient(exc: BaseException) -> bool:
    """True for connection trouble, timeouts, throttling and 5xx; False for everything a retry cannot fix."""
    if isinstance(exc, (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)):
        return True
    if isinstance(exc, botocore.exceptions.ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status >= 500 or status == 429 or exc.response.get("Error", {}).get("Code") in _S3_TRANSIENT_CODES
    return False


def _explain_s3(exc: botocore.exceptions.ClientError, client: Any, bucket: str, key: str) -> S3Error:
    code = exc.response.get("Error", {}).get("Code", "")
    endpoint = client.meta.endpoint_url
    if code in ("NoSuchBucket", "404"):
        return S3Error(f"bucket {bucket} does not exist at {endpoint}; create it or fix [wine] bucket")
    if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch"):
        return S3Error(f"{endpoint} rejected the credentials ({code}); check [s3] aws_access_key_id and "
                       f"aws_secret_access_key")
    if code in ("AccessDenied", "403"):
        return S3Error(f"access denied on s3://{bucket}/{key} at {endpoint}; the credentials need s3:PutObject, "
                       f"GetObject, DeleteObject, ListBucketMultipartUploads and AbortMultipartUpload there")
    return S3Error(f"s3://{bucket}/{key} at {endpoint}: {code}: {exc}")


def transfer_s3_client(settings: TransferSettings) -> Any:
    """A boto3 client for one transfer, built from ``[s3]``.

    botocore's own retries are off: every S3 call of the transfer goes through one RetryPolicy, so the
    retry budget is ``[extract] retries`` and each retry is logged. The pool fits the upload threads.
    """
    config = BotoConfig(retries={"mode": "standard", "total_max_attempts": 1},
                        max_pool_connections=settings.upload_threads + 2)
    return boto3.client("s3", config=config, **s3_options())


class _S3Calls:
    """The transfer's S3 requests, each retried on transient errors and explained on permanent ones."""

    def __init__(self, client: Any, bucket: str, key: str, retry: RetryPolicy) -> None:
        self.client, self.bucket, self.key, self.retry = client, bucket, key, retry

    def __call__(self, what: str, action: Callable[[], Any]) -> Any:
        try:
            return self.retry.call(action, f"S3 {what} s3://{self.bucket}/{self.key}", s3_is_transient)
        except botocore.exceptions.ClientError as exc:
            if s3_is_transient(exc):
                raise
            raise _explain_s3(exc, self.client, self.bucket, self.key) from exc


# -- the transfer ------------------------------------------------------------------------------------------
def staging_key(key: str, prefix: str) -> str:
    """Where the unverified upload of ``key`` lives until it is verified."""
    return f"{prefix}/{key}"


def clean_leftovers(client: Any, bucket: str, key: str, staging: str, retry: RetryPolicy) -> None:
    """Abort open multipart uploads of ``key`` and ``staging`` and delete ``staging``: what a killed attempt left.

    The final key itself is never deleted here: it only ever exists complete and verified.
    """
    calls = _S3Calls(client, bucket, key, retry)
    for upload_key in (key, staging):
        listing = calls("list multipart uploads", lambda k=upload_key: client.list_multipart_uploads(
            Bucket=bucket, Prefix=k))
        for upload in listing.get("Uploads", []):
            if upload["Key"] == upload_key:  # the prefix also matches longer keys of other files
                log.warning("aborting multipart upload %s of s3://%s/%s left by an earlier attempt",
                            upload["UploadId"], bucket, upload_key)
                calls("abort multipart upload", lambda k=upload_key, u=upload["UploadId"]:
                      client.abort_multipart_upload(Bucket=bucket, Key=k, UploadId=u))
    calls("delete staging object", lambda: client.delete_object(Bucket=bucket, Key=staging))


def _check_count(source: RemoteSource, count: int) -> None:
    if count != source.size:
        raise sftp.SourceChangedError(
            f"{source.description}: received {count} bytes but the server's stat says {source.size}; the file "
            f"was truncated or is still being written. Nothing was written to S3; re-run when it is complete")


def stream_to_s3(source: RemoteSource, client: Any, bucket: str, key: str, *, content_type: str,
                 settings: TransferSettings, on_progress: Callable[[int], None] | None = None) -> TransferResult:
    """Copy ``source`` to ``s3://bucket/key`` as described in this module's docstring; returns what moved."""
    started = time.monotonic()
    report = on_progress or (lambda _done: None)
    calls = _S3Calls(client, bucket, key, settings.retry)
    staging = staging_key(key, settings.staging_prefix)
    # Fails at once, naming the bucket, before a single byte is read.
    calls("check bucket", lambda: client.head_bucket(Bucket=bucket))
    clean_leftovers(client, bucket, key, staging, settings.retry)

    part_size = settings.part_size_for(source.size)
    if source.size <= part_size:
        data = bytearray(source.size)
        _check_count(source, source.read_into(0, memoryview(data)) if source.size else 0)
        source.verify_unchanged()
        digest = hashlib.sha256(data).hexdigest()
        calls("put", lambda: client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type,
                                               Metadata=_metadata(source, digest)))
        report(len(data))
        return TransferResult(len(data), time.monotonic() - started, digest)

    upload_id = calls("create multipart upload", lambda: client.create_multipart_upload(
        Bucket=bucket, Key=staging, ContentType=content_type)["UploadId"])
    completed = False
    try:
        hasher, parts = _upload_parts(source, client, bucket, staging, upload_id, part_size, settings, report)
        digest = hasher.hexdigest()
        source.verify_unchanged()
        etag = calls("complete multipart upload", lambda: client.complete_multipart_upload(
            Bucket=bucket, Key=staging, UploadId=upload_id, MultipartUpload={"Parts": parts}))["ETag"]
        completed = True
        # Server-side: no bytes pass through here. IfMatch makes sure the object copied is the one just verified.
        copy_config = TransferConfig(multipart_threshold=settings.copy_part_size,
                                     multipart_chunksize=settings.copy_part_size,
                                     max_concurrency=settings.upload_threads)
        calls("copy verified upload to", lambda: client.copy(
            {"Bucket": bucket, "Key": staging}, bucket, key, Config=copy_config,
            ExtraArgs={"Metadata": _metadata(source, digest), "MetadataDirective": "REPLACE",
                       "ContentType": content_type, "CopySourceIfMatch": etag}))
    except BaseException:
        # Also on KeyboardInterrupt/SIGTERM: no parts may be left behind to pile up (and be billed).
        if not completed:
            _best_effort(f"abort multipart upload of s3://{bucket}/{staging}",
                         lambda: client.abort_multipart_upload(Bucket=bucket, Key=staging, UploadId=upload_id))
        _best_effort(f"abort copies to s3://{bucket}/{key}",
                     lambda: _abort_uploads_of(client, bucket, key))
        raise
    finally:
        _best_effort(f"delete s3://{bucket}/{staging}", lambda: client.delete_object(Bucket=bucket, Key=staging))
    return TransferResult(source.size, time.monotonic() - started, digest)


def _upload_parts(source: RemoteSource, client: Any, bucket: str, key: str, upload_id: str, part_size: int,
                  settings: TransferSettings, report: Callable[[int], None]) -> tuple[Any, list[dict]]:
    """Read, count and hash the parts in order here; upload them in a thread pool. Returns (hash, parts).

    The parts live in a fixed pool of ``upload_threads + read_ahead_parts`` buffers, reused for the whole file:
    the reader waits for a free buffer when uploads fall behind, and no part-sized memory is allocated per part
    (allocating and freeing 8 MiB blocks makes glibc's heap, and so the RSS, creep up).
    """
    hasher = hashlib.sha256()
    calls = _S3Calls(client, bucket, key, settings.retry)
    part_count = -(-source.size // part_size)
    free_buffers: queue.Queue[bytearray] = queue.Queue()
    for _ in range(min(part_count, settings.upload_threads + settings.read_ahead_parts)):
        free_buffers.put(bytearray(part_size))
    uploaded = 0
    uploaded_lock = threading.Lock()
    failed = threading.Event()

    def upload(number: int, buffer: bytearray, length: int) -> dict:
        nonlocal uploaded
        # botocore takes bytes or bytearray, not a memoryview: only the short last part is copied.
        body = buffer if length == len(buffer) else bytes(memoryview(buffer)[:length])
        response = calls(f"upload part {number} of", lambda: client.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body))
        with uploaded_lock:
            uploaded += length
        return {"PartNumber": number, "ETag": response["ETag"]}

    def finished(buffer: bytearray, future: concurrent.futures.Future) -> None:
        if future.exception() is not None:
            failed.set()
        free_buffers.put(buffer)  # only now: a retry of the upload may still have needed the bytes

    futures: list[concurrent.futures.Future] = []
    read = 0
    pool = concurrent.futures.ThreadPoolExecutor(settings.upload_threads, thread_name_prefix="extract-upload")
    try:
        for number, offset in enumerate(range(0, source.size, part_size), start=1):
            buffer = free_buffers.get()
            if failed.is_set():
                break  # the failed future's exception is raised below
            length = min(part_size, source.size - offset)
            view = memoryview(buffer)[:length]
            got = source.read_into(offset, view)
            hasher.update(view[:got])
            view.release()
            read += got
            if got != length:
                break  # short read: _check_count below says so
            future = pool.submit(upload, number, buffer, length)
            future.add_done_callback(functools.partial(finished, buffer))
            futures.append(future)
            with uploaded_lock:
                report(uploaded)
        parts = [future.result() for future in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    _check_count(source, read)
    report(source.size)
    return hasher, parts


def _abort_uploads_of(client: Any, bucket: str, key: str) -> None:
    for upload in client.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", []):
        if upload["Key"] == key:
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"])


def _best_effort(what: str, action: Callable[[], Any]) -> None:
    """Cleanup that must not hide the original error; the next attempt's clean_leftovers retries it."""
    try:
        action()
    except Exception as exc:  # noqa: BLE001
        log.warning("cleanup failed (%s): %s; the next attempt will retry it", what, exc)


def _metadata(source: RemoteSource, sha256: str) -> dict[str, str]:
    return {"sha256": sha256, "source-size": str(source.size), "source-mtime": source.mtime_iso}


# -- the tasks ---------------------------------------------------------------------------------------------
class RemoteWineFile(luigi.ExternalTask):
    """A source file the vendor drops on the SFTP server; the pipeline waits for it, never makes it."""

    date = luigi.DateParameter()
    source = luigi.Parameter()

    def output(self) -> sftp.SftpTarget:
        return sftp.SftpTarget(sftp.remote_path(wine().remote_root, self.date, configured_source(self.source).file))


class _ProgressReporter:
    """Scheduler progress for a transfer, at most once per interval (the scheduler is a remote service)."""

    def __init__(self, task: luigi.Task, total: int, interval: float) -> None:
        self.task, self.total, self.interval = task, total, interval
        self.started = time.monotonic()
        self.last = float("-inf")

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if now - self.last < self.interval and done < self.total:
            return
        self.last = now
        elapsed = max(now - self.started, 1e-6)
        self.task.set_progress_percentage(round(100 * done / self.total) if self.total else 100)
        self.task.set_status_message(f"{done / MiB:.1f} of {self.total / MiB:.1f} MB uploaded, "
                                     f"{done / MiB / elapsed:.1f} MB/s")


class ExtractWineFile(BatchTask):
    """Copies ``<remote_root>/<date>/<file>`` to ``s3://<bucket>/raw/<date>/<file>``, verified by SHA-256.

    The object carries ``sha256``, ``source-size`` and ``source-mtime`` metadata; ``self.metrics`` holds
    bytes, seconds, sha256 and mb_per_s after a successful run.
    """

    source = luigi.Parameter(description="a source name of [wine] sources, e.g. reviews_130k_csv")

    def requires(self) -> RemoteWineFile:
        return RemoteWineFile(date=self.date, source=self.source)

    def output(self) -> luigi.Target:
        return s3_target(self.s3_url("raw", configured_source(self.source).file))

    def run(self) -> None:
        bucket, key = split_url(self.output().path)
        settings = TransferSettings.from_config()
        # One client and one SFTP session per run: parallel workers never share a connection.
        client = transfer_s3_client(settings)
        with sftp.RemoteFile(self.input().path) as remote:
            log.info("extracting %s (%d bytes) -> s3://%s/%s", remote.description, remote.size, bucket, key)
            result = stream_to_s3(remote, client, bucket, key,
                                  content_type=CONTENT_TYPES.get(configured_source(self.source).format,
                                                                 "application/octet-stream"),
                                  settings=settings,
                                  on_progress=_ProgressReporter(self, remote.size, settings.progress_interval))
        self.metrics = result.metrics()
        log.info("extracted %s -> s3://%s/%s: %d bytes in %.2fs (%.1f MB/s), sha256 %s", remote.description,
                 bucket, key, result.bytes, result.seconds, self.metrics["mb_per_s"], result.sha256)
