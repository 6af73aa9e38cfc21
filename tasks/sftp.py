"""The SFTP adapter: verified connections to the vendor's drop, retries, a Luigi target and a remote file reader.

Everything that knows about paramiko lives here. A transfer opens a connection of its own per task run (never
shared between tasks), so the files of a batch can be extracted in parallel by several Luigi workers; the
existence checks of a process share one kept-open session (``_CheckSessions``).
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import logging
import os
import posixpath
import atexit
import socket
import stat as stat_mod
import threading
import time
from collections.abc import Iterator

import luigi
import paramiko
from paramiko.sftp import CMD_DATA, CMD_READ, CMD_STATUS, int64

from tasks.config import sftp as sftp_config
from tasks.retry import RetryPolicy, describe

log = logging.getLogger("winepipe.sftp")


# A remote file is read in requests of this size (paramiko's own largest read request).
SFTP_BLOCK = paramiko.SFTPFile.MAX_REQUEST_SIZE
# paramiko's SSH channel window: the server sends at most this much beyond what the reader consumed.
_CHANNEL_WINDOW = paramiko.common.DEFAULT_WINDOW_SIZE


class SftpError(RuntimeError):
    """A permanent SFTP problem; the message says what to fix."""


class SourceChangedError(RuntimeError):
    """The remote file changed, or the server sent other bytes than its stat promised; a retry cannot fix it."""


def is_transient(exc: BaseException) -> bool:
    """True for network trouble worth retrying (reset, refused, timeout, dropped session); False otherwise."""
    if isinstance(exc, (SftpError, SourceChangedError, paramiko.AuthenticationException,
                        paramiko.BadHostKeyException, FileNotFoundError, PermissionError)):
        return False
    # NoValidConnectionsError (refused) is a socket.error; EOFError is how paramiko reports a closed socket when
    # reading, a bare OSError("Socket is closed") when sending on its channel.
    if type(exc) is OSError and str(exc) == "Socket is closed":
        return True
    return isinstance(exc, (ConnectionError, TimeoutError, socket.timeout, EOFError, paramiko.SSHException,
                            paramiko.ssh_exception.NoValidConnectionsError))


# -- connections -------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class SftpSettings:
    """Everything a connection needs: ``[sftp]`` (tasks.config.sftp) plus the transfer keys read here."""

    host: str
    port: int
    username: str
    key_file: str
    key_passphrase_env: str
    password_env: str
    known_hosts: str
    connect_timeout: float
    auth_timeout: float = 30.0
    read_timeout: float = 60.0
    read_ahead: int = 1024 * 1024
    accept_unknown_host_key: bool = False
    retry: RetryPolicy = RetryPolicy()

    @classmethod
    def from_config(cls) -> SftpSettings:
        """``[sftp]`` as configured (tasks.config.sftp)."""
        cfg = sftp_config()
        return cls(host=cfg.host, port=cfg.port, username=cfg.user(), key_file=cfg.key_file,
                   key_passphrase_env=cfg.key_passphrase_env, password_env=cfg.password_env,
                   known_hosts=cfg.known_hosts, connect_timeout=cfg.connect_timeout,
                   auth_timeout=cfg.auth_timeout, read_timeout=cfg.read_timeout,
                   read_ahead=_read_ahead_bytes(cfg.read_ahead_mb),
                   accept_unknown_host_key=cfg.accept_unknown_host_key,
                   retry=RetryPolicy(cfg.retries, cfg.retry_base_delay, cfg.retry_max_delay))

    @property
    def where(self) -> str:
        return f"{self.username}@{self.host}:{self.port}"


def _read_ahead_bytes(read_ahead_mb: float) -> int:
    if read_ahead_mb <= 0:
        raise ValueError(f"[sftp] read_ahead_mb = {read_ahead_mb}; it must be positive (1 is the default)")
    return max(SFTP_BLOCK, int(read_ahead_mb * 1024 * 1024))


class _AcceptUnknownHostKeyLoudly(paramiko.MissingHostKeyPolicy):
    """First contact opt-out (``[sftp] accept_unknown_host_key``): accept, but say so as loudly as we can.

    Only a host that is *absent* from known_hosts reaches a policy; a changed key is still refused by paramiko.
    """

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        log.warning("SECURITY: accepting UNVERIFIED host key %s %s of %s because [sftp] accept_unknown_host_key "
                    "is on. Verify the fingerprint with the vendor, add it to known_hosts and turn the option off.",
                    key.get_name(), key.fingerprint, hostname)


def _load_key(settings: SftpSettings) -> paramiko.PKey | None:
    if not settings.key_file:
        return None
    path = os.path.expanduser(settings.key_file)
    passphrase = os.environ.get(settings.key_passphrase_env) or None
    try:
        # cryptography, which does the decryption, wants the passphrase as bytes.
        return paramiko.PKey.from_path(path, password=passphrase.encode() if passphrase else None)
    except FileNotFoundError:
        raise SftpError(f"[sftp] key_file {path} does not exist") from None
    except (paramiko.PasswordRequiredException, TypeError):
        # cryptography reports an OpenSSH-format key loaded without its passphrase as a TypeError.
        raise SftpError(f"[sftp] key_file {path} is encrypted: set its passphrase in "
                        f"${settings.key_passphrase_env}") from None
    except (paramiko.SSHException, ValueError) as exc:
        raise SftpError(f"[sftp] key_file {path} cannot be read as an ed25519 or RSA key (or the passphrase in "
                        f"${settings.key_passphrase_env} is wrong): {exc}") from None


# AES-GCM needs no separate MAC pass: about 20% faster bulk reads in paramiko than its default aes128-ctr with
# hmac-sha2-256. Only the order of preference changes; a server without GCM still negotiates the rest.
_PREFERRED_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")


def _transport_preferring_gcm(sock: socket.socket, *args: object, window: int = _CHANNEL_WINDOW,
                              **kwargs: object) -> paramiko.Transport:
    # SFTP read requests are small packets sent while data flows the other way: with Nagle's algorithm one waits
    # for an ACK, and the server runs out of requests meanwhile.
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # The channel's window must hold the read-ahead with room to spare (answers carry headers, and paramiko
    # re-opens the window only after a tenth of it was consumed); otherwise reads wait for the window.
    transport = paramiko.Transport(sock, *args, default_window_size=max(window + window // 4, _CHANNEL_WINDOW),
                                   **kwargs)
    options = transport.get_security_options()
    supported = tuple(options.ciphers)
    options.ciphers = tuple(c for c in _PREFERRED_CIPHERS if c in supported) + tuple(
        c for c in supported if c not in _PREFERRED_CIPHERS)
    return transport


def _open_session(settings: SftpSettings) -> paramiko.SSHClient:
    """One connect and authenticate attempt; permanent problems become SftpError with what to fix."""
    known_hosts = os.path.expanduser(settings.known_hosts)
    client = paramiko.SSHClient()
    try:
        client.load_host_keys(known_hosts)
    except FileNotFoundError:
        if not settings.accept_unknown_host_key:
            raise SftpError(f"[sftp] known_hosts {known_hosts} does not exist; add the server's host key to "
                            f"it") from None
    # Never trust a host key on first sight unless the operator explicitly opted out for first contact.
    client.set_missing_host_key_policy(
        _AcceptUnknownHostKeyLoudly() if settings.accept_unknown_host_key else paramiko.RejectPolicy())
    pkey = _load_key(settings)
    try:
        client.connect(
            settings.host, port=settings.port, username=settings.username, pkey=pkey,
            password=os.environ.get(settings.password_env) or None,
            timeout=settings.connect_timeout, banner_timeout=settings.connect_timeout,
            auth_timeout=settings.auth_timeout, channel_timeout=settings.connect_timeout,
            allow_agent=False, look_for_keys=False,
            transport_factory=functools.partial(_transport_preferring_gcm, window=settings.read_ahead),
        )
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise SftpError(f"{settings.where}: host key {exc.key.get_name()} {exc.key.fingerprint} does not match "
                        f"the one in {known_hosts}; refusing to connect (possible man-in-the-middle; if the "
                        f"server's key really changed, replace its line in that file)") from None
    except paramiko.AuthenticationException:
        client.close()
        tried = f"key {settings.key_file or '(none)'}"
        if os.environ.get(settings.password_env):
            tried += f" and the password in ${settings.password_env}"
        raise SftpError(f"{settings.where}: authentication failed with {tried}; check [sftp] username and "
                        f"key_file, and the server's authorized_keys") from None
    except paramiko.SSHException as exc:
        client.close()
        if "not found in known_hosts" in str(exc):
            raise SftpError(f"{settings.where}: unknown host key (not in {known_hosts}); refusing to connect. "
                            f"Verify the server's fingerprint and add it to that file") from None
        raise
    except BaseException:
        client.close()
        raise
    return client


@contextlib.contextmanager
def connect(settings: SftpSettings | None = None) -> Iterator[paramiko.SFTPClient]:
    """An SFTP session to the configured server, its host key verified against ``[sftp] known_hosts``.

    Transient connection errors are retried with backoff; the session's reads time out after
    ``[sftp] read_timeout`` seconds so a stalled server cannot hang a task forever.
    """
    settings = settings or SftpSettings.from_config()
    client = settings.retry.call(lambda: _open_session(settings), f"connect to {settings.where}", is_transient)
    try:
        yield _open_sftp(client, settings)
    finally:
        client.close()


def _open_sftp(client: paramiko.SSHClient, settings: SftpSettings) -> paramiko.SFTPClient:
    """The SFTP session of a connected client, its reads timing out after ``[sftp] read_timeout`` seconds."""
    session = client.open_sftp()
    session.get_channel().settimeout(settings.read_timeout)
    return session


def remote_path(root: str, date: object, file: str) -> str:
    """``<remote_root>/<date>/<file>`` on the server."""
    return posixpath.join(root, str(date), file)


def _stat(session: paramiko.SFTPClient, path: str, settings: SftpSettings) -> paramiko.SFTPAttributes:
    try:
        return session.stat(path)
    except PermissionError:
        raise SftpError(f"{settings.where}: permission denied on {path}; ask the vendor to grant the pipeline's "
                        f"account read access") from None


class _CheckSessions:
    """SFTP sessions kept open for existence checks: one per server settings and process.

    Luigi checks every RemoteWineFile before it runs anything, and a backfill checks three files a day for many
    days; one SSH handshake per check would cost ~0.1 s each. A session is keyed by the process id too, so a
    worker process forked by Luigi never uses its parent's connection. A session that failed is closed and
    forgotten; the caller's retry opens a new one.
    """

    # A session idle for longer is opened anew: a NAT or firewall may have dropped it without either side
    # noticing, and a check would then wait for the read timeout.
    MAX_IDLE_SECONDS = 30.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[tuple[int, SftpSettings], paramiko.SSHClient] = {}
        self._sessions: dict[tuple[int, SftpSettings], paramiko.SFTPClient] = {}
        self._used: dict[tuple[int, SftpSettings], float] = {}

    @contextlib.contextmanager
    def session(self, settings: SftpSettings) -> Iterator[paramiko.SFTPClient]:
        """A kept-open session for ``settings`` (opened when there is none or it died)."""
        key = (os.getpid(), settings)
        with self._lock:
            client, session = self._clients.get(key), self._sessions.get(key)
            transport = client.get_transport() if client is not None else None
            if (transport is None or not transport.is_active() or session is None or session.get_channel().closed
                    or time.monotonic() - self._used.get(key, 0.0) > self.MAX_IDLE_SECONDS):
                self._forget(key)
                client = _open_session(settings)
                try:
                    session = _open_sftp(client, settings)
                except BaseException:
                    client.close()
                    raise
                self._clients[key], self._sessions[key] = client, session
            try:
                yield self._sessions[key]
            except BaseException:
                self._forget(key)
                raise
            self._used[key] = time.monotonic()

    def _forget(self, key: tuple[int, SftpSettings]) -> None:
        self._used.pop(key, None)
        self._sessions.pop(key, None)
        client = self._clients.pop(key, None)
        if client is not None:
            client.close()

    def close(self) -> None:
        """Closes this process's sessions."""
        with self._lock:
            for key in [k for k in self._clients if k[0] == os.getpid()]:
                self._forget(key)


_check_sessions = _CheckSessions()
atexit.register(_check_sessions.close)
# Luigi forks its worker processes after the checks. A forked child must not inherit a session whose
# transport thread (and its locks) did not come along; closed in the parent, the next check reconnects.
os.register_at_fork(before=_check_sessions.close)


class SftpTarget(luigi.Target):
    """A regular file on the SFTP server; exists() is an SFTP stat."""

    def __init__(self, path: str) -> None:
        self.path = path

    def exists(self) -> bool:
        settings = SftpSettings.from_config()

        def stat_once() -> paramiko.SFTPAttributes | None:
            with _check_sessions.session(settings) as session:
                try:
                    return _stat(session, self.path, settings)
                except FileNotFoundError:
                    return None

        attrs = settings.retry.call(stat_once, f"stat {settings.where}:{self.path}", is_transient)
        if attrs is None:
            # A warning, so it shows in a cron run's output even without a logging config for "winepipe".
            log.warning("waiting for the vendor: %s has no %s yet", settings.where, self.path)
            return False
        if not stat_mod.S_ISREG(attrs.st_mode or 0):
            log.warning("%s:%s exists but is not a regular file", settings.where, self.path)
            return False
        # A vendor's upload in progress already exists; once extracted, a truncated file would be taken as the
        # batch for good. A file counts as delivered when it has not changed for settle_seconds.
        age = time.time() - (attrs.st_mtime or 0)
        settle = sftp_config().settle_seconds
        if age < settle:
            log.warning("waiting for the vendor: %s:%s changed %.0fs ago; taken once unchanged for %.0fs",
                        settings.where, self.path, max(age, 0), settle)
            return False
        return True


# -- reading a remote file ---------------------------------------------------------------------------------
class RemoteFile:
    """A remote file read part by part at given offsets, resuming after a dropped connection.

    Reads go through ``_ReadAhead``, which keeps ``[sftp] read_ahead_mb`` of read requests in flight across the
    caller's parts. After a transient error the session is reopened and the part re-read from its offset; the
    file's size and mtime must still be what they were, otherwise the bytes already sent would belong to another
    version.
    """

    def __init__(self, path: str, settings: SftpSettings | None = None) -> None:
        self.path = path
        self.settings = settings or SftpSettings.from_config()
        self._stack = contextlib.ExitStack()
        self._file: paramiko.SFTPFile | None = None
        self.size = 0
        self.mtime = 0
        self._stat_taken = False
        self._reader: _ReadAhead | None = None

    @property
    def description(self) -> str:
        return f"sftp://{self.settings.where}/{self.path}"

    def __enter__(self) -> RemoteFile:
        self.settings.retry.call(self._ensure_open, f"open {self.description}", is_transient,
                                 before_retry=self._close)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._close()

    def _ensure_open(self) -> paramiko.SFTPFile:
        if self._file is not None:
            return self._file
        # One attempt only: the caller's retry loop owns the budget, so a reconnect is not retried twice over.
        session = self._stack.enter_context(connect(dataclasses.replace(self.settings, retry=RetryPolicy(0))))
        attrs = _stat(session, self.path, self.settings)
        if not self._stat_taken:
            self.size, self.mtime, self._stat_taken = int(attrs.st_size or 0), int(attrs.st_mtime or 0), True
        else:
            self._check_unchanged(attrs)
        try:
            self._file = self._stack.enter_context(session.open(self.path, "rb"))
        except PermissionError:
            raise SftpError(f"{self.description}: permission denied opening the file; ask the vendor to grant the "
                            f"pipeline's account read access") from None
        return self._file

    def _close(self) -> None:
        self._file = None
        self._reader = None
        stack, self._stack = self._stack, contextlib.ExitStack()
        try:
            stack.close()
        except Exception as exc:  # noqa: BLE001 - closing a session the server already dropped may fail
            log.debug("closing %s: %s", self.description, describe(exc))

    def _check_unchanged(self, attrs: paramiko.SFTPAttributes) -> None:
        if (int(attrs.st_size or 0), int(attrs.st_mtime or 0)) != (self.size, self.mtime):
            raise SourceChangedError(
                f"{self.description} changed during the transfer (size {self.size} -> {attrs.st_size}, mtime "
                f"{self.mtime} -> {attrs.st_mtime}); the vendor is probably still writing it. Re-run when the "
                f"upload is finished")

    @property
    def mtime_iso(self) -> str:
        """The remote mtime as ISO 8601 UTC."""
        return datetime.datetime.fromtimestamp(self.mtime, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def read_into(self, offset: int, buffer: memoryview) -> int:
        """Fill ``buffer`` with the bytes from ``offset``; returns how many came (fewer only at end of file)."""

        def read_once() -> int:
            file = self._ensure_open()
            if self._reader is None or self._reader.position != offset:
                self._reader = _ReadAhead(file, offset, self.size, self.settings.read_ahead)
            try:
                return self._reader.read_into(buffer)
            except BaseException:
                self._reader = None  # its requests and answers no longer match a position
                raise

        # A failed attempt drops the session; the next one reconnects and re-reads this part from its offset.
        return self.settings.retry.call(read_once, f"read {self.description} at offset {offset}", is_transient,
                                        before_retry=self._close)

    def verify_unchanged(self) -> None:
        """Raise SourceChangedError if the remote size or mtime moved since the transfer started."""
        self.settings.retry.call(lambda: self._check_unchanged(self._ensure_open().stat()),
                                 f"re-stat {self.description}", is_transient, before_retry=self._close)


class _ReadAhead:
    """Sequential reads of an open remote file, with ``window`` bytes of read requests kept in flight.

    paramiko's own pipelining (``SFTPFile.prefetch``, ``readv``) issues its requests from a thread of its own and
    takes itself for finished whenever no request is outstanding. When the reading thread catches up with that
    thread, which happens under GIL contention (the extract's upload threads), every later block is read with
    one synchronous round trip. Measured here with one busy thread beside the reader, for a 77 MB file of 2,350
    blocks: a ``readv`` per 8 MiB part read 505 to 1,796 blocks that way (24-56 s), a whole-file ``prefetch``
    2,346 (65 s), against 0.3 s without. A ``readv`` per part also drains the pipeline at every part. Here the
    reading thread issues the requests itself, topping the window up as it consumes, so there is no such race,
    and memory holds at most the window's blocks.

    Only the reading thread may use it (paramiko reads answers without a lock), and a session serves one reader
    at a time (RemoteFile opens its own). It uses paramiko's private request API (``SFTPClient._async_request``,
    ``_read_response``, ``_convert_status``), checked against the pinned 5.1.0; tests/test_extract.py reads
    real files through it, so an upgrade that changes it fails there.
    """

    def __init__(self, file: paramiko.SFTPFile, offset: int, end: int, window: int) -> None:
        self.sftp, self.handle = file.sftp, file.handle
        self.position, self.end, self.window = offset, end, window
        self._requested_to = offset
        self._block = SFTP_BLOCK  # lowered to what the server answers when it caps its reads
        self._at_end = False
        self._pending: dict[int, tuple[int, int]] = {}  # request number -> (offset, length)
        self._arrived: dict[int, tuple[int, bytes | BaseException]] = {}  # offset -> (length asked, data or error)

    def _request(self, offset: int, length: int) -> None:
        number = self.sftp._async_request(self, CMD_READ, self.handle, int64(offset), int(length))
        self._pending[number] = (offset, length)

    def _async_response(self, kind: int, msg: paramiko.Message, number: int) -> None:
        # Called by paramiko's SFTPClient._read_response with the answer to one of this object's requests (paramiko
        # holds the requester weakly: the answers of a dropped reader are discarded by paramiko itself).
        offset, length = self._pending.pop(number)
        if kind == CMD_DATA:
            data = msg.get_string()
            self._arrived[offset] = (length, data if len(data) <= length else SftpError(
                f"the server answered a read of {length} bytes at offset {offset} with {len(data)} bytes"))
            return
        if kind != CMD_STATUS:
            self._arrived[offset] = (length, SftpError(f"the server answered a read at offset {offset} with "
                                                       f"message type {kind}"))
            return
        try:
            self.sftp._convert_status(msg)
            outcome: bytes | BaseException = SftpError(f"the server answered a read at offset {offset} with OK "
                                                       f"and no data")
        except EOFError:
            outcome = b""  # end of file: the caller's byte count tells a short file
        except OSError as exc:
            outcome = exc
        self._arrived[offset] = (length, outcome)

    def read_into(self, buffer: memoryview) -> int:
        """Fill ``buffer`` from the current position; returns how many bytes came (fewer only at end of file)."""
        filled = 0
        while filled < len(buffer) and not self._at_end:
            start = self.position
            # Top the window up in one burst once half of it is consumed: fewer, fuller packets.
            if self._requested_to < self.end and self._requested_to - start < self.window // 2:
                limit = min(self.end, start + self.window)
                while self._requested_to < limit:
                    length = min(self._block, limit - self._requested_to)
                    self._request(self._requested_to, length)
                    self._requested_to += length
            if start >= self._requested_to:
                break  # the end the reader was made for
            while start not in self._arrived:
                self.sftp._read_response()
            asked, data = self._arrived.pop(start)
            if isinstance(data, BaseException):
                raise data
            if not data:
                self._at_end = True  # the file ends here: later reads return nothing at once
                break
            if len(data) < asked:
                # A server may answer with fewer bytes than asked (OpenSSH caps a read at 255 KiB): ask again for
                # the rest, and ask no more than it gives from now on.
                self._request(start + len(data), asked - len(data))
                self._block = min(self._block, len(data))
            taken = min(len(data), len(buffer) - filled)
            buffer[filled:filled + taken] = data[:taken]
            if taken < len(data):
                # The rest of this block starts the next part (the rest of a short answer is already asked for).
                self._arrived[start + taken] = (len(data) - taken, data[taken:])
            filled += taken
            self.position += taken
        return filled
