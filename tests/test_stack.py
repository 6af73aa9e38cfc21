"""The local stack: real services on loopback, idempotent, with clear errors."""
from __future__ import annotations

import getpass
import socket
import subprocess
import sys

import paramiko
import pytest

from devstack.services import PORTS, STACK, Service, StackError
from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def _listening_addresses(port: int) -> set[str]:
    addresses = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as fh:
            next(fh)
            for line in fh:
                local, state = line.split()[1], line.split()[3]
                host, port_hex = local.rsplit(":", 1)
                if state == "0A" and int(port_hex, 16) == port:  # 0A = LISTEN
                    addresses.add(host)
    return addresses


def test_every_service_listens_on_loopback_only(stack):
    for name, port in PORTS.items():
        assert _listening_addresses(port) == {"0100007F"}, f"{name} on {port}"


def test_up_twice_is_a_no_op(stack):
    proc = subprocess.run([sys.executable, "-m", "devstack", "up"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("already running") == len(PORTS)


def test_status_reports_every_service_healthy(stack):
    proc = subprocess.run([sys.executable, "-m", "devstack", "status"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0
    for name in ("sshd", "s3", "mysql", "redis", "luigid"):
        assert f"devstack: {name:<7}" in proc.stderr
    assert proc.stderr.count(" healthy (pid ") == len(PORTS)


def test_a_taken_port_is_a_one_line_error_naming_the_service(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        service = Service("squatted", port, ["sh"])
        with pytest.raises(StackError) as err:
            service.up()
    assert str(err.value) == (f"squatted: port 127.0.0.1:{port} is taken by a process this stack did not start; "
                              f"stop it or change the port")


def test_a_missing_binary_names_the_package_to_install():
    service = Service("ghost", 1, ["/nonexistent/ghostd"], "ghost-server")
    with pytest.raises(StackError, match=r"^ghost: /nonexistent/ghostd not found; install it with: "
                                         r"apt-get install -y ghost-server$"):
        service.up()


def _ssh(pkey: paramiko.PKey | None = None, password: str | None = None) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.load_host_keys(str(STACK / "sshd" / "client" / "known_hosts"))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect("127.0.0.1", PORTS["sftp"], username=getpass.getuser(), pkey=pkey, password=password,
                   allow_agent=False, look_for_keys=False, timeout=10)
    return client


def test_sftp_accepts_the_generated_client_key_and_serves_the_sftp_root(stack):
    key = paramiko.Ed25519Key.from_private_key_file(str(STACK / "sshd" / "client" / "id_ed25519"))
    marker = STACK / "sftp" / "stack-test-marker.txt"
    marker.write_text("hello")
    try:
        with _ssh(key) as client, client.open_sftp() as conn:
            assert "stack-test-marker.txt" in conn.listdir(".")
            with conn.open("stack-test-marker.txt") as fh:
                assert fh.read() == b"hello"
    finally:
        marker.unlink()


def test_sftp_refuses_other_keys_and_passwords(stack):
    with pytest.raises(paramiko.AuthenticationException):
        _ssh(paramiko.RSAKey.generate(2048))
    with pytest.raises(paramiko.AuthenticationException):
        _ssh(password="root")


def test_sftp_runs_no_shell_commands(stack):
    key = paramiko.Ed25519Key.from_private_key_file(str(STACK / "sshd" / "client" / "id_ed25519"))
    with _ssh(key) as client:
        channel = client.get_transport().open_session(timeout=10)
        channel.settimeout(3)
        channel.exec_command("echo SHELL-RAN")
        try:
            received = channel.recv(1024)
        except socket.timeout:
            received = b""
        assert b"SHELL-RAN" not in received


def test_luigid_records_task_history_in_mariadb(stack):
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", port=PORTS["mysql"], user="luigid", password="luigid-dev",
                           database="luigi_task_history")
    with conn.cursor() as cur:
        cur.execute("SHOW TABLES")
        assert {"tasks", "task_events", "task_parameters"} <= {row[0] for row in cur.fetchall()}
    conn.close()
