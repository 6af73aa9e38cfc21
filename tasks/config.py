"""Configuration sections of luigi.cfg, read through luigi.Config classes.

The class names are the section names, as in Luigi's own ``core`` and ``worker`` sections. The ``[s3]``
section has no class here: luigi.contrib.s3 passes its keys to boto3 as they are (see tasks/s3.py), and
``[spark]`` belongs to luigi.contrib.spark.
"""
from __future__ import annotations

import datetime
import getpass
import os
from dataclasses import dataclass

import luigi


class sftp(luigi.Config):  # noqa: N801 - the section name
    """``[sftp]``: the vendor's SFTP drop."""

    host = luigi.Parameter(default="127.0.0.1")
    port = luigi.IntParameter(default=22)
    username = luigi.Parameter(default="", description="empty: the OS user running the pipeline")
    key_file = luigi.Parameter(default="", description="private key file (ed25519 or RSA)")
    key_passphrase_env = luigi.Parameter(
        default="WINEPIPE_SFTP_KEY_PASSPHRASE",
        description="environment variable holding the key's passphrase, if it has one")
    password_env = luigi.Parameter(
        default="WINEPIPE_SFTP_PASSWORD", description="environment variable holding a password (optional)")
    known_hosts = luigi.Parameter(default="~/.ssh/known_hosts")
    accept_unknown_host_key = luigi.BoolParameter(
        default=False, parsing=luigi.BoolParameter.EXPLICIT_PARSING,
        description="first-contact opt-out: accept a host missing from known_hosts, with a SECURITY warning; "
                    "a changed key is always refused")
    connect_timeout = luigi.FloatParameter(default=15.0, description="seconds for TCP connect, banner and channel")
    auth_timeout = luigi.FloatParameter(default=30.0, description="seconds allowed for SSH authentication")
    read_timeout = luigi.FloatParameter(
        default=60.0, description="seconds an SFTP read may stall before it counts as a transient error")
    read_ahead_mb = luigi.FloatParameter(
        default=1.0, description="MiB of read requests kept in flight while a file is read; a transfer is at most "
                                 "this much per round trip, so raise it for a distant server")
    settle_seconds = luigi.FloatParameter(
        default=60.0, description="a remote file counts as delivered once unchanged for this long (mtime)")
    retries = luigi.IntParameter(default=5, description="retries of transient SFTP errors (connect, stat, read)")
    retry_base_delay = luigi.FloatParameter(default=1.0, description="first backoff in seconds (doubles, jittered)")
    retry_max_delay = luigi.FloatParameter(default=30.0, description="longest backoff in seconds")

    def user(self) -> str:
        return self.username or getpass.getuser()


class mysql(luigi.Config):  # noqa: N801
    """``[mysql]``: the warehouse the curated reviews are loaded into."""

    host = luigi.Parameter(default="127.0.0.1")
    port = luigi.IntParameter(default=3306)
    user = luigi.Parameter(default="winepipe")
    password = luigi.Parameter(default="", significant=False)
    password_env = luigi.Parameter(
        default="WINEPIPE_MYSQL_PASSWORD", significant=False,
        description="environment variable holding the password; when set and non-empty it wins over `password`")
    database = luigi.Parameter(default="winepipe")
    ssl_ca = luigi.Parameter(default="", description="CA bundle; set to enable TLS")
    ssl_cert = luigi.Parameter(default="")
    ssl_key = luigi.Parameter(default="")
    ssl_verify_identity = luigi.BoolParameter(
        default=True, description="with TLS (ssl_ca set): check that the server certificate names `host`")
    connect_timeout = luigi.IntParameter(default=10)
    migration_lock_timeout = luigi.IntParameter(
        default=120, description="seconds to wait for another process's schema migration to finish")

    def resolved_password(self) -> str:
        """The password: the environment variable named by ``password_env`` when set, else ``password``."""
        from_env = os.environ.get(self.password_env, "") if self.password_env else ""
        return from_env or self.password


class redis(luigi.Config):  # noqa: N801
    """``[redis]``: where per-run metadata is kept."""

    host = luigi.Parameter(default="127.0.0.1")
    port = luigi.IntParameter(default=6379)
    db = luigi.IntParameter(default=0)
    password = luigi.Parameter(default="", significant=False)
    key_prefix = luigi.Parameter(default="winepipe:")
    retention_days = luigi.IntParameter(default=30, description="days a run's keys live after their last write")
    required = luigi.BoolParameter(
        default=False, parsing=luigi.BoolParameter.EXPLICIT_PARSING,
        description="true: a task refuses to run when its run metadata cannot be recorded")
    socket_timeout = luigi.FloatParameter(default=2.0, description="seconds to wait for Redis (connect, command)")


class wine(luigi.Config):  # noqa: N801
    """``[wine]``: where a batch's data lives and which sources make it up."""

    bucket = luigi.Parameter()
    remote_root = luigi.Parameter(default=".")
    sources = luigi.ListParameter(description="JSON list of {name, file, format, precedence}")
    work_dir = luigi.Parameter(default="", description="local scratch space; empty: the system temp dir")


@dataclass(frozen=True)
class Source:
    """One input file of a batch, as configured in ``[wine] sources``."""

    name: str
    file: str
    format: str
    precedence: int


def sources() -> list[Source]:
    """The configured sources, highest precedence first."""
    result = [Source(str(s["name"]), str(s["file"]), str(s["format"]), int(s["precedence"]))
              for s in wine().sources]
    for src in result:
        if src.format not in ("csv", "json"):
            raise ValueError(f"[wine] sources: {src.name} has format {src.format!r}; expected csv or json")
    return sorted(result, key=lambda s: -s.precedence)


def source(name: str) -> Source:
    """The configured source called ``name``."""
    for src in sources():
        if src.name == name:
            return src
    raise ValueError(f"unknown source {name!r}; [wine] sources has {', '.join(s.name for s in sources())}")


def today() -> datetime.date:
    return datetime.date.today()
