"""The S3 adapter: one boto3 client built from ``[s3]``, the same way luigi.contrib.s3 builds its own."""
from __future__ import annotations

import functools
import logging
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from luigi.contrib.s3 import S3Client, S3FlagTarget, S3Target

log = logging.getLogger("winepipe.s3")

MiB = 1024 * 1024
# S3's limits: parts of 5 MiB (but the last) to 5 GiB, at most 10,000 of them; one PutObject or CopyObject
# up to 5 GiB.
S3_MIN_PART = 5 * MiB
S3_MAX_PART = 5 * 1024 * MiB
S3_MAX_PARTS = 10_000

# Keys of [s3] that luigi.contrib.s3 consumes itself rather than passing to boto3.
_LUIGI_ONLY_KEYS = ("aws_role_arn", "aws_role_session_name")


class WineS3Client(S3Client):
    """luigi.contrib.s3's client, but an empty ``[s3]`` value means "not set".

    An override file (LUIGI_CONFIG_PATH) is merged over luigi.cfg and cannot delete a key, so production
    blanks the local stack's ``endpoint_url`` and keys (``endpoint_url =``) to get AWS and boto3's own
    credential chain; passed on as "" they would break boto3.
    """

    @staticmethod
    def _get_s3_config(key: str | None = None) -> Any:
        config = S3Client._get_s3_config()
        config = {k: v for k, v in config.items() if v != ""}
        return config.get(key) if key else config


def s3_options() -> dict[str, Any]:
    """The ``[s3]`` keys as boto3 keyword arguments (endpoint_url, region_name, credentials, ...)."""
    options = WineS3Client._get_s3_config()
    for key in _LUIGI_ONLY_KEYS:
        options.pop(key, None)
    return options


def s3_target(url: str) -> S3Target:
    """An S3 object as a Luigi target."""
    return S3Target(url, client=WineS3Client())


def s3_flag_target(url: str, flag: str = "_SUCCESS") -> S3FlagTarget:
    """A folder that counts as complete once ``flag`` exists in it (written last), as a Luigi target."""
    return S3FlagTarget(url, client=WineS3Client(), flag=flag)


@functools.lru_cache(maxsize=None)
def _client(frozen_options: tuple) -> Any:
    options = dict(frozen_options)
    # Standard mode retries 5xx, throttling and connection errors with exponential backoff and jitter.
    config = BotoConfig(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=16)
    return boto3.client("s3", config=config, **options)


def s3_client() -> Any:
    """A boto3 S3 client for the configured endpoint (cached per configuration)."""
    return _client(tuple(sorted(s3_options().items())))


def split_url(url: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key)."""
    if not url.startswith("s3://"):
        raise ValueError(f"not an s3:// URL: {url}")
    bucket, _, key = url[len("s3://"):].partition("/")
    return bucket, key


def list_keys(url: str) -> list[str]:
    """Every key under the prefix ``url`` (an s3:// URL ending in /)."""
    bucket, prefix = split_url(url)
    keys: list[str] = []
    for page in s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(obj["Key"] for obj in page.get("Contents", []))
    return keys
