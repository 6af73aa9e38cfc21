"""Extract: a source file of a batch, from the vendor's SFTP drop to the S3 raw zone."""
from __future__ import annotations

import hashlib
import logging
import time

import luigi
from boto3.s3.transfer import TransferConfig
from luigi.contrib.s3 import S3Target

from tasks import sftp
from tasks.base import BatchTask
from tasks.config import source as configured_source
from tasks.config import wine
from tasks.s3 import s3_client, split_url

log = logging.getLogger("winepipe.extract")

CHUNK = 16 * 1024 * 1024


class RemoteWineFile(luigi.ExternalTask):
    """A source file the vendor drops on the SFTP server; the pipeline waits for it, never makes it."""

    date = luigi.DateParameter()
    source = luigi.Parameter()

    def output(self) -> sftp.SftpTarget:
        return sftp.SftpTarget(sftp.remote_path(wine().remote_root, self.date, configured_source(self.source).file))


class _HashingReader:
    """A file-like view of the remote file that counts and hashes the bytes as boto3 reads them."""

    def __init__(self, raw, expected_size: int) -> None:
        self.raw = raw
        self.expected_size = expected_size
        self.sha256 = hashlib.sha256()
        self.bytes = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size if size and size > 0 else CHUNK)
        self.sha256.update(data)
        self.bytes += len(data)
        if not data and self.bytes != self.expected_size:
            # Raising inside the upload aborts the multipart upload: nothing appears at the key.
            raise OSError(f"short read: got {self.bytes} bytes, the server's stat says {self.expected_size}")
        return data


class ExtractWineFile(BatchTask):
    """Copies ``<remote_root>/<date>/<file>`` to ``s3://<bucket>/raw/<date>/<file>``."""

    source = luigi.Parameter(description="a source name of [wine] sources, e.g. reviews_130k_csv")

    def requires(self) -> RemoteWineFile:
        return RemoteWineFile(date=self.date, source=self.source)

    def output(self) -> S3Target:
        return S3Target(self.s3_url("raw", configured_source(self.source).file))

    def run(self) -> None:
        remote = self.input().path
        bucket, key = split_url(self.output().path)
        started = time.monotonic()
        with sftp.connect() as conn:
            size = conn.stat(remote).st_size or 0
            with conn.open(remote, "rb") as fh:
                fh.prefetch(size)
                reader = _HashingReader(fh, size)
                s3_client().upload_fileobj(reader, bucket, key,
                                           Config=TransferConfig(multipart_chunksize=CHUNK, max_concurrency=4))
        seconds = time.monotonic() - started
        self.result = {"bytes": reader.bytes, "sha256": reader.sha256.hexdigest(), "seconds": round(seconds, 3)}
        log.info("extracted %s -> s3://%s/%s: %d bytes in %.1fs, sha256 %s",
                 remote, bucket, key, reader.bytes, seconds, self.result["sha256"])
