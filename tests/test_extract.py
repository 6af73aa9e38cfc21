"""ExtractWineFile against the real local sshd and S3 endpoint: byte equality, verification, atomicity, safety.

Every test writes its own files into this session's SFTP folder under its own batch date, so tests never see
each other's data. Tests that need a server that can be killed start their own throwaway sshd.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import getpass
import hashlib
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import botocore.exceptions
import luigi
import luigi.worker
import pytest

from devstack.services import HOST, STACK
from tasks import sftp
from tasks.config import sources
from tasks.retry import RetryPolicy
from tasks.extract import (ExtractWineFile, S3Error, TransferSettings, _ProgressReporter, staging_key,
                           stream_to_s3, transfer_s3_client)
from tasks.s3 import s3_client
from tests.conftest import ROOT, Namespace, run_luigi

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
SSHD_DIR = STACK / "sshd"
# Fast retries so failing paths stay quick; the values are what a test overrides, not production advice.
FAST_RETRY = RetryPolicy(retries=2, base_delay=0.01, max_delay=0.05)
SMALL_PARTS = TransferSettings(part_size=5 * MiB, upload_threads=2, read_ahead_parts=1, retry=FAST_RETRY)


# -- helpers -----------------------------------------------------------------------------------------------
def _source_of_format(fmt: str):
    return next(src for src in sources() if src.format == fmt)


def _drop(ns: Namespace, date: datetime.date, file: str, content: bytes) -> Path:
    """The vendor drops ``content`` as ``<remote_root>/<date>/<file>``."""
    path = ns.sftp_dir / str(date) / file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _raw_key(date: datetime.date, file: str) -> str:
    return f"raw/{date}/{file}"


def _mtime_iso(path: Path) -> str:
    return datetime.datetime.fromtimestamp(int(path.stat().st_mtime), datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def _assert_nothing_at(bucket: str, key: str) -> None:
    """No object at the key or its staging key, and no open multipart upload for either."""
    client = s3_client()
    for candidate in (key, staging_key(key, "_staging")):
        with pytest.raises(botocore.exceptions.ClientError) as err:
            client.head_object(Bucket=bucket, Key=candidate)
        assert err.value.response["Error"]["Code"] in ("404", "NoSuchKey")
        uploads = client.list_multipart_uploads(Bucket=bucket, Prefix=candidate).get("Uploads", [])
        assert [u for u in uploads if u["Key"] == candidate] == []


def _build(*tasks: luigi.Task, workers: int = 1) -> luigi.execution_summary.LuigiRunResult:
    return luigi.build(list(tasks), local_scheduler=True, workers=workers, detailed_summary=True)


class InMemorySource:
    """A remote file held in memory; ``short_by`` makes the last part come back that many bytes short."""

    def __init__(self, content: bytes, short_by: int = 0) -> None:
        self.content, self.short_by = content, short_by
        self.size, self.mtime, self.description = len(content), 1_700_000_000, "memory://test"
        self.mtime_iso = "2023-11-14T22:13:20Z"

    def read_into(self, offset: int, buffer: memoryview) -> int:
        data = self.content[offset:offset + len(buffer)]
        if self.short_by and offset + len(buffer) >= self.size:
            data = data[:-self.short_by]
        buffer[:len(data)] = data
        return len(data)

    def verify_unchanged(self) -> None:
        """An in-memory file never changes."""


# -- byte equality and metadata ----------------------------------------------------------------------------
@pytest.mark.parametrize("fmt, content", [
    ("csv", b"country,points,price\nPortugal,87,15.0\n\"Italy, North\",90,\n"),
    ("json", b'[{"country": "Portugal", "points": "87"}, {"country": "Italia \xc3\xa8", "points": "90"}]\n'),
])
def test_each_format_is_copied_byte_exact_with_sha256_size_and_mtime_metadata(ns, batch_date, fmt, content):
    src = _source_of_format(fmt)
    path = _drop(ns, batch_date, src.file, content)

    result = _build(ExtractWineFile(date=batch_date, source=src.name))

    assert result.scheduling_succeeded, result.summary_text
    obj = s3_client().get_object(Bucket=ns.bucket, Key=_raw_key(batch_date, src.file))
    assert obj["Body"].read() == content
    assert obj["Metadata"] == {"sha256": hashlib.sha256(content).hexdigest(), "source-size": str(len(content)),
                               "source-mtime": _mtime_iso(path)}
    assert obj["ContentType"] == {"csv": "text/csv", "json": "application/json"}[fmt]
    metrics = ExtractWineFile(date=batch_date, source=src.name).metrics  # luigi reuses the task instance
    assert set(metrics) == {"bytes", "seconds", "sha256", "mb_per_s"}
    assert (metrics["bytes"], metrics["sha256"]) == (len(content), hashlib.sha256(content).hexdigest())
    assert metrics["seconds"] > 0 and metrics["mb_per_s"] >= 0


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbfcountry,points\r\nFrance,91\r\n"], ids=["empty", "bom"])
def test_a_zero_byte_file_and_a_utf8_bom_file_transfer_byte_exact(ns, batch_date, content):
    src = _source_of_format("csv")
    _drop(ns, batch_date, src.file, content)

    assert _build(ExtractWineFile(date=batch_date, source=src.name)).scheduling_succeeded

    obj = s3_client().get_object(Bucket=ns.bucket, Key=_raw_key(batch_date, src.file))
    assert obj["Body"].read() == content
    assert obj["Metadata"]["sha256"] == hashlib.sha256(content).hexdigest()
    assert obj["Metadata"]["source-size"] == str(len(content))


def test_a_multipart_file_is_verified_copied_from_staging_and_reports_progress(ns, batch_date, monkeypatch):
    src = _source_of_format("csv")
    content = os.urandom(3 * MiB) * 7  # 21 MiB: three 8 MiB parts
    _drop(ns, batch_date, src.file, content)
    key = _raw_key(batch_date, src.file)
    # Leftovers of a killed earlier attempt: an open multipart upload and a staging object.
    client = s3_client()
    client.put_object(Bucket=ns.bucket, Key=staging_key(key, "_staging"), Body=b"half")
    client.create_multipart_upload(Bucket=ns.bucket, Key=staging_key(key, "_staging"))
    client.create_multipart_upload(Bucket=ns.bucket, Key=key)
    percentages: list[int] = []
    messages: list[str] = []
    # What the worker forwards to the scheduler (the task's set_progress_percentage/set_status_message).
    monkeypatch.setattr(luigi.worker.TaskStatusReporter, "update_progress_percentage",
                        lambda self, p: percentages.append(p))
    monkeypatch.setattr(luigi.worker.TaskStatusReporter, "update_status_message", lambda self, m: messages.append(m))

    assert _build(ExtractWineFile(date=batch_date, source=src.name)).scheduling_succeeded

    obj = client.get_object(Bucket=ns.bucket, Key=key)
    assert obj["Body"].read() == content
    assert obj["Metadata"]["sha256"] == hashlib.sha256(content).hexdigest()
    assert obj["ContentType"] == "text/csv"
    _assert_nothing_at_staging(ns.bucket, key)
    assert percentages[-1] == 100
    assert messages[-1].startswith("21.0 of 21.0 MB uploaded, ") and messages[-1].endswith(" MB/s")


def _assert_nothing_at_staging(bucket: str, key: str) -> None:
    client = s3_client()
    staging = staging_key(key, "_staging")
    assert client.list_objects_v2(Bucket=bucket, Prefix=staging).get("KeyCount") == 0
    for candidate in (key, staging):
        uploads = client.list_multipart_uploads(Bucket=bucket, Prefix=candidate).get("Uploads", [])
        assert [u for u in uploads if u["Key"] == candidate] == []


def test_progress_is_throttled_to_the_interval():
    class Task:
        def __init__(self):
            self.calls = []

        def set_progress_percentage(self, p):
            self.calls.append(p)

        def set_status_message(self, m):
            pass

    task = Task()
    report = _ProgressReporter(task, total=100 * MiB, interval=60)
    for done in range(0, 100 * MiB, MiB):
        report(done)
    report(100 * MiB)
    assert task.calls == [0, 100]


# -- waiting for the vendor --------------------------------------------------------------------------------
def test_a_missing_remote_file_ends_with_missing_data_status_and_exit_code_20(ns, batch_date):
    src = _source_of_format("csv")

    proc = run_luigi(ns, "ExtractWineFile", "--date", str(batch_date), "--source", src.name)

    output = proc.stdout + proc.stderr
    assert proc.returncode == 20, output
    assert "were missing external dependencies" in output
    assert (f"waiting for the vendor: {getpass.getuser()}@127.0.0.1:2222 has no "
            f"{ns.remote_root}/{batch_date}/{src.file} yet") in output


# -- a completed target is left alone ----------------------------------------------------------------------
def test_a_completed_target_is_not_transferred_again(ns, batch_date):
    src = _source_of_format("json")
    _drop(ns, batch_date, src.file, b"[]\n")
    args = ("ExtractWineFile", "--date", str(batch_date), "--source", src.name)
    first = run_luigi(ns, *args)
    assert first.returncode == 0, first.stderr
    before = s3_client().head_object(Bucket=ns.bucket, Key=_raw_key(batch_date, src.file))

    second = run_luigi(ns, *args)

    assert second.returncode == 0, second.stderr
    after = s3_client().head_object(Bucket=ns.bucket, Key=_raw_key(batch_date, src.file))
    assert (after["ETag"], after["LastModified"]) == (before["ETag"], before["LastModified"])
    assert "1 complete ones were encountered" in second.stdout + second.stderr
    assert "Did not run any tasks" in second.stdout + second.stderr
    assert "extracting" not in second.stderr


# -- safe by default ---------------------------------------------------------------------------------------
def _keygen(path: Path, kind: str = "ed25519", passphrase: str = "") -> Path:
    args = ["-b", "2048"] if kind == "rsa" else []
    subprocess.run(["ssh-keygen", "-q", "-t", kind, *args, "-N", passphrase, "-C", "test", "-f", str(path)],
                   check=True)
    return path


def _settings(**changes) -> sftp.SftpSettings:
    return dataclasses.replace(sftp.SftpSettings.from_config(), retry=FAST_RETRY, **changes)


@pytest.mark.parametrize("host, error", [
    ("otherhost", r"unknown host key \(not in .*known_hosts\); refusing to connect"),  # never seen
    ("127.0.0.1", r"does not match the one in .*refusing to connect"),  # known, with another key
])
def test_an_unknown_or_changed_host_key_is_refused(tmp_path, host, error):
    known_hosts = tmp_path / "known_hosts"
    other = _keygen(tmp_path / "other_host_key").with_suffix(".pub").read_text().split()
    known_hosts.write_text(f"[{host}]:2222 {other[0]} {other[1]}\n")

    with pytest.raises(sftp.SftpError, match=error):
        with sftp.connect(_settings(known_hosts=str(known_hosts))):
            pass


def test_first_contact_opt_out_accepts_an_unknown_host_key_loudly(tmp_path, caplog):
    with sftp.connect(_settings(known_hosts=str(tmp_path / "empty"), accept_unknown_host_key=True)) as session:
        session.listdir(".")
    assert "SECURITY: accepting UNVERIFIED host key ssh-ed25519" in caplog.text


def test_a_wrong_client_key_is_refused_with_what_to_fix(tmp_path):
    key = _keygen(tmp_path / "id_wrong")
    with pytest.raises(sftp.SftpError, match=r"authentication failed with key .*id_wrong; check \[sftp\] "
                                             r"username and key_file, and the server's authorized_keys"):
        with sftp.connect(_settings(key_file=str(key))):
            pass


def test_an_encrypted_rsa_key_needs_its_passphrase_from_the_environment(tmp_path, monkeypatch):
    key = _keygen(tmp_path / "id_rsa", "rsa", passphrase="s3cret")
    settings = _settings(key_file=str(key), key_passphrase_env="TEST_EXTRACT_PASSPHRASE")
    monkeypatch.delenv("TEST_EXTRACT_PASSPHRASE", raising=False)
    with pytest.raises(sftp.SftpError, match=r"is encrypted: set its passphrase in \$TEST_EXTRACT_PASSPHRASE"):
        with sftp.connect(settings):
            pass
    # With the passphrase the RSA key loads; the server does not know it, so authentication is what fails.
    monkeypatch.setenv("TEST_EXTRACT_PASSPHRASE", "s3cret")
    with pytest.raises(sftp.SftpError, match=r"authentication failed with key .*id_rsa"):
        with sftp.connect(settings):
            pass


# -- reading the remote file (real sshd) --------------------------------------------------------------------
@pytest.fixture
def read_requests(monkeypatch) -> list[tuple[str, int, int]]:
    """Events of the remote reads: ("request", offset, bytes in flight after it); synchronous reads fail."""
    events: list[tuple[str, int, int]] = []
    request = sftp._ReadAhead._request

    def spy(self, offset: int, length: int) -> None:
        request(self, offset, length)
        events.append(("request", offset, sum(n for _, n in self._pending.values())))
        events.append(("length", offset, length))

    def no_synchronous_reads(client, kind, *args):
        # paramiko's prefetch falls back to these when its thread loses the race with the reader.
        assert kind != sftp.CMD_READ, "a synchronous (one round trip per block) read"
        return unpatched(client, kind, *args)

    unpatched = sftp.paramiko.SFTPClient._request
    monkeypatch.setattr(sftp._ReadAhead, "_request", spy)
    monkeypatch.setattr(sftp.paramiko.SFTPClient, "_request", no_synchronous_reads)
    return events


def _read_in_parts(path: str, part: int, events: list, read_ahead: int = MiB) -> bytes:
    got = bytearray()
    settings = dataclasses.replace(sftp.SftpSettings.from_config(), read_ahead=read_ahead, retry=RetryPolicy(0))
    with sftp.RemoteFile(path, settings) as remote:
        for offset in range(0, remote.size, part):
            buffer = bytearray(min(part, remote.size - offset))
            assert remote.read_into(offset, memoryview(buffer)) == len(buffer)
            events.append(("part read", offset + len(buffer), 0))
            got += buffer
    return bytes(got)


def test_remote_reads_keep_a_window_of_requests_in_flight_across_parts(ns, batch_date, read_requests):
    content = os.urandom(3 * MiB + 12345)
    _drop(ns, batch_date, "window.csv", content)

    assert _read_in_parts(sftp.remote_path(ns.remote_root, batch_date, "window.csv"), MiB, read_requests,
                          read_ahead=256 * 1024) == content
    in_flight = [n for kind, _, n in read_requests if kind == "request"]
    assert 128 * 1024 < max(in_flight) <= 256 * 1024
    # The next part's blocks were already asked for while this part was being read: no pipeline drain per part.
    first_of_part_two = next(i for i, (kind, offset, _) in enumerate(read_requests)
                             if kind == "request" and offset >= MiB)
    assert first_of_part_two < read_requests.index(("part read", MiB, 0))


def test_read_ahead_mb_sizes_the_window_and_the_ssh_channel_fits_it(ns, config):
    config("[sftp]\nread_ahead_mb = 8\n")
    settings = sftp.SftpSettings.from_config()
    assert settings.read_ahead == 8 * MiB
    with sftp.connect(settings) as session:
        assert session.get_channel().in_window_size == 10 * MiB
    # The default keeps paramiko's 2 MiB window, which already holds a 1 MiB read-ahead.
    with sftp.connect(dataclasses.replace(settings, read_ahead=MiB)) as session:
        assert session.get_channel().in_window_size == 2 * MiB
    config("[sftp]\nread_ahead_mb = 0\n")
    with pytest.raises(ValueError, match=r"\[sftp\] read_ahead_mb = 0.0; it must be positive"):
        sftp.SftpSettings.from_config()


def test_a_short_answer_of_the_server_is_asked_for_again(ns, batch_date, read_requests, monkeypatch):
    # OpenSSH's sftp-server answers a read of more than 255 KiB (SFTP_MAX_READ_LENGTH) with fewer bytes.
    content = os.urandom(3 * MiB + 7)
    _drop(ns, batch_date, "short-answers.csv", content)
    monkeypatch.setattr(sftp, "SFTP_BLOCK", 512 * 1024)

    # Parts that end inside a block: the rest of the block is kept for the next part.
    assert _read_in_parts(sftp.remote_path(ns.remote_root, batch_date, "short-answers.csv"), MiB + 1000,
                          read_requests) == content
    asked = [(offset, length) for kind, offset, length in read_requests if kind == "length"]
    assert asked[:2] == [(0, 512 * 1024), (512 * 1024, 512 * 1024)]  # the first burst, before any answer
    new, again, requested_to = [], [], 0
    for offset, length in asked:
        if offset == requested_to:
            new.append((offset, length))
            requested_to += length
        else:
            again.append((offset, length))
    assert requested_to == len(content)  # the new requests cover the file once, in order
    # The rest of a short answer is asked for again (twice for each of the first two blocks: 261,120 + 261,120 +
    # 2,048 bytes), and once the cap is known no new request asks for more than it.
    assert again == [(261120, 263168), (522240, 2048), (785408, 263168), (1046528, 2048)]
    assert max(length for _, length in new[2:]) == 261120


def test_a_file_shorter_than_its_stat_reads_short_without_retrying(ns, batch_date, read_requests, caplog):
    path = _drop(ns, batch_date, "shrinking.csv", os.urandom(MiB))
    # A read that waited for an answer that never comes would time out after 2 s and be retried (logged).
    settings = dataclasses.replace(sftp.SftpSettings.from_config(), read_timeout=2.0, retry=FAST_RETRY)
    with sftp.RemoteFile(sftp.remote_path(ns.remote_root, batch_date, "shrinking.csv"), settings) as remote:
        path.write_bytes(b"x" * 1000)  # after the stat: the vendor rewrote it
        buffer = bytearray(remote.size)
        assert remote.read_into(0, memoryview(buffer)) == 1000
        assert remote.read_into(1000, memoryview(buffer)[1000:]) == 0  # the end stays the end
    assert bytes(buffer[:1000]) == b"x" * 1000
    assert "retry" not in caplog.text


# -- verification, atomicity, retries (unit level against the real S3 endpoint) ----------------------------
@pytest.mark.parametrize("size", [1000, 11 * MiB], ids=["single-put", "multipart"])
def test_a_short_read_fails_and_leaves_nothing_at_the_key(ns, size):
    key = f"raw/short-read/{size}.csv"
    source = InMemorySource(os.urandom(size), short_by=1)

    with pytest.raises(sftp.SourceChangedError, match=rf"received {size - 1} bytes but the server's stat says "
                                                       rf"{size}"):
        stream_to_s3(source, transfer_s3_client(SMALL_PARTS), ns.bucket, key, content_type="text/csv",
                     settings=SMALL_PARTS)

    _assert_nothing_at(ns.bucket, key)


def test_a_transient_s3_error_is_retried_and_logged(ns, caplog):
    key = "raw/transient/file.csv"
    content = os.urandom(11 * MiB)
    client = transfer_s3_client(SMALL_PARTS)
    failures: list[str] = []

    def fail_once(request, **kwargs):
        if not failures:
            failures.append(request.url)
            raise botocore.exceptions.EndpointConnectionError(endpoint_url=request.url)

    # botocore's own event hook: the request of the first part upload never reaches the server.
    client.meta.events.register("before-send.s3.UploadPart", fail_once)
    with caplog.at_level(logging.WARNING, logger="winepipe"):
        result = stream_to_s3(InMemorySource(content), client, ns.bucket, key, content_type="text/csv",
                              settings=SMALL_PARTS)

    assert len(failures) == 1
    assert result.sha256 == hashlib.sha256(content).hexdigest()
    assert s3_client().get_object(Bucket=ns.bucket, Key=key)["Body"].read() == content
    assert "transient error (EndpointConnectionError: Could not connect to the endpoint URL" in caplog.text
    assert "retry 1 of 2" in caplog.text


def test_a_missing_bucket_fails_at_once_naming_the_bucket(ns, caplog):
    settings = dataclasses.replace(SMALL_PARTS, retry=RetryPolicy(retries=5, base_delay=2.0))
    bucket = f"winepipe-missing-{ns.suffix}"
    started = time.monotonic()

    with pytest.raises(S3Error, match=rf"^bucket {bucket} does not exist at http://127.0.0.1:5055; create it or "
                                      rf"fix \[wine\] bucket$"):
        stream_to_s3(InMemorySource(b"x"), transfer_s3_client(settings), bucket, "raw/x.csv",
                     content_type="text/csv", settings=settings)

    assert time.monotonic() - started < 1.5
    assert "retry" not in caplog.text


def test_transient_sftp_errors_are_retried_with_backoff_permanent_ones_are_not(caplog):
    attempts: list[int] = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionResetError("connection reset by peer")
        return "ok"

    assert FAST_RETRY.call(flaky, "read", sftp.is_transient) == "ok"
    assert len(attempts) == 3
    assert caplog.text.count("transient error (ConnectionResetError: connection reset by peer); retry") == 2
    assert all(FAST_RETRY.delay(n) <= min(FAST_RETRY.max_delay, FAST_RETRY.base_delay * 2 ** (n - 1))
               for n in range(1, 10))
    for permanent in (PermissionError("denied"), sftp.SftpError("auth"), FileNotFoundError("gone")):
        assert not sftp.is_transient(permanent)
    # paramiko's channel, sending on a dropped connection; other bare OSErrors (an SFTP failure status) are not.
    assert sftp.is_transient(OSError("Socket is closed"))
    assert not sftp.is_transient(OSError("Failure"))


# -- parallel workers --------------------------------------------------------------------------------------
def test_the_files_of_a_batch_extract_in_parallel_workers(ns, batch_date):
    contents = {src.name: f"{src.name}\n".encode() * 1000 for src in sources()}
    for src in sources():
        _drop(ns, batch_date, src.file, contents[src.name])

    result = _build(*(ExtractWineFile(date=batch_date, source=src.name) for src in sources()), workers=3)

    assert result.scheduling_succeeded, result.summary_text
    for src in sources():
        body = s3_client().get_object(Bucket=ns.bucket, Key=_raw_key(batch_date, src.file))["Body"].read()
        assert body == contents[src.name]


# -- the server dies mid-transfer --------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    """Processes started by ``pid`` (sshd forks one per connection), found through /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@contextlib.contextmanager
def _throwaway_sshd(tmp_path: Path, root: Path, port: int) -> Iterator[subprocess.Popen]:
    """Our own sshd (the stack's host key and authorized_keys) serving ``root`` on ``port``; killed on exit."""
    config = tmp_path / f"sshd_config_{port}"
    config.write_text(f"""\
Port {port}
ListenAddress {HOST}
HostKey {SSHD_DIR}/ssh_host_ed25519_key
PidFile {tmp_path}/sshd_{port}.pid
AuthorizedKeysFile {SSHD_DIR}/authorized_keys
AllowUsers {getpass.getuser()}
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
ForceCommand internal-sftp -d {root}
""")
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"sshd_{port}.log", "ab"))
    try:
        deadline = time.monotonic() + 10
        while not _port_open(port):
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / f"sshd_{port}.log").read_text()
            time.sleep(0.05)
        yield proc
    finally:
        _kill_tree(proc)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((HOST, port)) == 0


def _kill_tree(proc: subprocess.Popen) -> None:
    for pid in [*_descendants(proc.pid), proc.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=10)


def _uploaded_parts(bucket: str, key: str) -> int:
    client = s3_client()
    for upload in client.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", []):
        if upload["Key"] == key:
            return len(client.list_parts(Bucket=bucket, Key=key, UploadId=upload["UploadId"]).get("Parts", []))
    return 0


def test_a_server_that_dies_mid_transfer_leaves_nothing_and_a_rerun_succeeds(ns, batch_date, tmp_path):
    src = _source_of_format("csv")
    root = tmp_path / "sftp-root"
    path = root / str(batch_date) / src.file
    path.parent.mkdir(parents=True)
    block = os.urandom(MiB)
    with path.open("wb") as out:
        for i in range(96):
            out.write(block[i:] + block[:i])  # 96 MiB, no two parts alike
    port = _free_port()
    host_key = (SSHD_DIR / "ssh_host_ed25519_key.pub").read_text().split()
    (tmp_path / "known_hosts").write_text(f"[{HOST}]:{port} {host_key[0]} {host_key[1]}\n")
    override = tmp_path / "luigi-killed.cfg"
    override.write_text((ns.config_path.read_text() + f"""
[sftp]
port = {port}
known_hosts = {tmp_path / "known_hosts"}
read_timeout = 5
retries = 1
retry_base_delay = 0.2
""").replace(f"remote_root = {ns.remote_root}", "remote_root = ."))
    # The killed run goes slowly (one part at a time) so the kill lands mid-transfer; the re-run at full speed.
    throttled = tmp_path / "luigi-throttled.cfg"
    throttled.write_text(override.read_text() + """
[extract]
part_size_mb = 5
upload_threads = 1
read_ahead_parts = 0
retries = 1
retry_base_delay = 0.1
""")
    key = _raw_key(batch_date, src.file)
    staging = staging_key(key, "_staging")
    args = [str(ROOT / ".venv" / "bin" / "luigi"), "--module", "tasks", "ExtractWineFile", "--date",
            str(batch_date), "--source", src.name, "--local-scheduler"]

    with _throwaway_sshd(tmp_path, root, port) as server:
        run = subprocess.Popen(args, cwd=ROOT, env=dataclasses.replace(ns, config_path=throttled).env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 30
        while not _uploaded_parts(ns.bucket, staging):  # kill once parts sit in S3 that must be aborted
            assert run.poll() is None and time.monotonic() < deadline, run.stdout.read()
            time.sleep(0.02)
        _kill_tree(server)
        output = run.communicate(timeout=60)[0]

    assert run.returncode == 30, output
    assert "retry 1 of 1" in output
    _assert_nothing_at(ns.bucket, key)

    with _throwaway_sshd(tmp_path, root, port):
        rerun = subprocess.run(args, cwd=ROOT, env=dataclasses.replace(ns, config_path=override).env(),
                               capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    head = s3_client().head_object(Bucket=ns.bucket, Key=key)
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(8 * MiB), b""):
            sha.update(chunk)
    assert head["Metadata"]["sha256"] == sha.hexdigest()
    assert head["ContentLength"] == 96 * MiB


def test_a_file_still_changing_is_not_taken_until_it_settles(ns, batch_date, config, caplog):
    from tasks.extract import RemoteWineFile

    path = ns.sftp_dir / str(batch_date) / "winemag-data-130k-v2.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b",country,description\n0,Italy,partial upload")
    config("[sftp]\nsettle_seconds = 600\n")
    remote = RemoteWineFile(date=batch_date, source="reviews_130k_csv")
    with caplog.at_level("WARNING", logger="winepipe.sftp"):
        assert not remote.complete()
    assert f"{path.name} changed" in caplog.text and "taken once unchanged for 600s" in caplog.text
    old = time.time() - 601
    os.utime(path, (old, old))
    assert remote.complete()


def test_existence_checks_share_one_ssh_connection_per_process_and_reconnect_when_it_died(ns, batch_date,
                                                                                         monkeypatch):
    from tasks.extract import RemoteWineFile

    for src in sources():
        _drop(ns, batch_date, src.file, b"x")
        old = time.time() - 3600
        os.utime(ns.sftp_dir / str(batch_date) / src.file, (old, old))
    sftp._check_sessions.close()
    opened = []
    real_open = sftp._open_session

    def counting_open(settings):
        client = real_open(settings)
        opened.append(client)
        return client

    monkeypatch.setattr(sftp, "_open_session", counting_open)
    remotes = [RemoteWineFile(date=batch_date, source=src.name) for src in sources()]
    assert [r.complete() for r in remotes] == [True, True, True]
    assert len(opened) == 1
    opened[0].close()  # as if the server dropped the idle connection
    assert remotes[0].complete()
    assert len(opened) == 2 and opened[1].get_transport().is_active()
    # A fork (Luigi's worker processes) closes the sessions first: a child never inherits one.
    pid = os.fork()
    if pid == 0:
        os._exit(0 if not opened[1].get_transport() else 1)
    assert os.waitpid(pid, 0)[1] == 0
    assert not opened[1].get_transport()
    assert remotes[1].complete() and len(opened) == 3
    sftp._check_sessions.close()
    assert not opened[2].get_transport()
