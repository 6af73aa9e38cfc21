"""The SFTP adapter: verified connections to the vendor's drop, and a Luigi target for a remote file."""
from __future__ import annotations

import contextlib
import logging
import os
import posixpath
import stat as stat_mod
from collections.abc import Iterator

import luigi
import paramiko

from tasks.config import sftp as sftp_config

log = logging.getLogger("winepipe.sftp")


class SftpError(RuntimeError):
    """A permanent SFTP problem; the message says what to fix."""


def _load_key(cfg: sftp_config) -> paramiko.PKey | None:
    if not cfg.key_file:
        return None
    path = os.path.expanduser(cfg.key_file)
    passphrase = os.environ.get(cfg.key_passphrase_env) or None
    try:
        return paramiko.PKey.from_path(path, passphrase=passphrase)
    except FileNotFoundError:
        raise SftpError(f"[sftp] key_file {path} does not exist") from None
    except paramiko.PasswordRequiredException:
        raise SftpError(f"[sftp] key_file {path} is encrypted: set its passphrase in ${cfg.key_passphrase_env}") from None
    except (paramiko.SSHException, ValueError) as exc:
        raise SftpError(f"[sftp] key_file {path} cannot be read as an ed25519 or RSA key: {exc}") from None


@contextlib.contextmanager
def connect(cfg: sftp_config | None = None) -> Iterator[paramiko.SFTPClient]:
    """An SFTP session to the configured server; the host key must be in ``[sftp] known_hosts``."""
    cfg = cfg or sftp_config()
    where = f"{cfg.user()}@{cfg.host}:{cfg.port}"
    known_hosts = os.path.expanduser(cfg.known_hosts)
    client = paramiko.SSHClient()
    try:
        client.load_host_keys(known_hosts)
    except FileNotFoundError:
        raise SftpError(f"[sftp] known_hosts {known_hosts} does not exist; add the server's host key to it") from None
    # Never trust a host key on first sight: an unknown key is an error, not a prompt.
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(
            cfg.host, port=cfg.port, username=cfg.user(), pkey=_load_key(cfg),
            password=os.environ.get(cfg.password_env) or None,
            timeout=cfg.connect_timeout, banner_timeout=cfg.connect_timeout, auth_timeout=cfg.connect_timeout,
            allow_agent=False, look_for_keys=False,
        )
    except paramiko.BadHostKeyException:
        client.close()
        raise SftpError(f"{where}: host key does not match the one in {known_hosts}; refusing to connect "
                        f"(if the server's key really changed, replace its line in that file)") from None
    except paramiko.AuthenticationException:
        client.close()
        raise SftpError(f"{where}: authentication failed with key {cfg.key_file or '(none)'}; check [sftp] "
                        f"username and key_file, and the server's authorized_keys") from None
    except paramiko.SSHException as exc:
        client.close()
        if "not found in known_hosts" in str(exc):
            raise SftpError(f"{where}: unknown host key (not in {known_hosts}); refusing to connect. Verify the "
                            f"server's fingerprint and add it to that file") from None
        raise
    try:
        yield client.open_sftp()
    finally:
        client.close()


def remote_path(root: str, date: object, file: str) -> str:
    """``<remote_root>/<date>/<file>`` on the server."""
    return posixpath.join(root, str(date), file)


class SftpTarget(luigi.Target):
    """A regular file on the SFTP server; exists() is an SFTP stat."""

    def __init__(self, path: str) -> None:
        self.path = path

    def exists(self) -> bool:
        with connect() as conn:
            try:
                attrs = conn.stat(self.path)
            except FileNotFoundError:
                cfg = sftp_config()
                log.info("waiting for the vendor: %s@%s:%d has no %s yet", cfg.user(), cfg.host, cfg.port, self.path)
                return False
        return stat_mod.S_ISREG(attrs.st_mode or 0)
