"""The services of the local development stack, each a real server on loopback.

Every service keeps its configuration, data, logs and pid file under ``.stack/<name>/`` so that
``make down`` stops exactly what ``make up`` started and nothing else.
"""
from __future__ import annotations

import getpass
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("devstack")

ROOT = Path(__file__).resolve().parent.parent
STACK = Path(os.environ.get("WINEPIPE_STACK_DIR", ROOT / ".stack")).resolve()
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"

# Non-default ports, so a system MySQL (3306), Redis (6379) or sshd (22) never clashes.
PORTS = {"sftp": 2222, "s3": 5055, "mysql": 3307, "redis": 6380, "luigid": 8082}

# Development credentials of the local stack. They bind to loopback only; luigi.cfg repeats them.
DEV = {
    "mysql_user": "winepipe",
    "mysql_password": "winepipe-dev",
    "mysql_database": "winepipe",
    "history_user": "luigid",
    "history_password": "luigid-dev",
    "history_database": "luigi_task_history",
    "s3_key": "winepipe-dev",
    "s3_secret": "winepipe-dev-secret",
    "bucket": "winepipe",
}


class StackError(RuntimeError):
    """A service could not be started; the message names the service and what to do."""


def port_open(port: int, host: str = HOST) -> bool:
    """True when something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still answers kill(0); it is not running.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        return True


def is_root() -> bool:
    return os.geteuid() == 0


@dataclass
class Service:
    """One server process of the stack."""

    name: str
    port: int
    binaries: list[str] = field(default_factory=list)
    package: str = ""
    timeout: float = 60.0

    @property
    def dir(self) -> Path:
        return STACK / self.name

    @property
    def pidfile(self) -> Path:
        return self.dir / f"{self.name}.pid"

    @property
    def logfile(self) -> Path:
        return self.dir / f"{self.name}.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    # -- hooks for the concrete services ------------------------------------------------------
    def prepare(self) -> None:
        """Create configuration, keys and data directories (idempotent)."""

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str] | None:
        return None

    def healthy(self) -> bool:
        return port_open(self.port)

    def after_start(self) -> None:
        """Provision accounts, buckets and the like once the service answers (idempotent)."""

    # -- lifecycle ----------------------------------------------------------------------------
    def check_binaries(self) -> None:
        for binary in self.binaries:
            if not (Path(binary).exists() or shutil.which(binary)):
                hint = f"apt-get install -y {self.package}" if self.package else "make venv"
                raise StackError(f"{self.name}: {binary} not found; install it with: {hint}")

    def up(self) -> str:
        if self.pid() is not None:
            if self.wait_healthy(self.timeout):
                self.after_start()
                return "already running"
            raise StackError(f"{self.name}: running (pid {self.pid()}) but not healthy; see {self.logfile}")
        if port_open(self.port):
            raise StackError(
                f"{self.name}: port {HOST}:{self.port} is taken by a process this stack did not start; "
                f"stop it or change the port"
            )
        self.check_binaries()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.prepare()
        with open(self.logfile, "ab") as logf:
            proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
                env=self.env(),
                start_new_session=True,  # survives the shell that ran `make up`
            )
        self.pidfile.write_text(f"{proc.pid}\n")
        if not self.wait_healthy(self.timeout, proc):
            self.down()
            raise StackError(f"{self.name}: not healthy after {self.timeout:.0f}s; see {self.logfile}")
        self.after_start()
        return f"started (pid {proc.pid})"

    def wait_healthy(self, timeout: float, proc: subprocess.Popen | None = None) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                return False
            try:
                if self.healthy():
                    return True
            except Exception:  # noqa: BLE001 - any failure of a probe means "not yet"
                pass
            time.sleep(0.25)
        return False

    def down(self) -> str:
        pid = self.pid()
        if pid is None:
            self.pidfile.unlink(missing_ok=True)
            return "not running"
        os.kill(pid, 15)
        deadline = time.monotonic() + 30
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if pid_alive(pid):
            os.kill(pid, 9)
        self.pidfile.unlink(missing_ok=True)
        return f"stopped (pid {pid})"

    def status(self) -> str:
        pid = self.pid()
        if pid is None:
            return "down"
        try:
            ok = self.healthy()
        except Exception:  # noqa: BLE001
            ok = False
        return f"{'healthy' if ok else 'UNHEALTHY'} (pid {pid})"


class Sftp(Service):
    """OpenSSH sshd serving SFTP only, key-only, with the remote root at .stack/sftp/."""

    def __init__(self) -> None:
        super().__init__("sshd", PORTS["sftp"], ["/usr/sbin/sshd", "ssh-keygen"], "openssh-server")

    @property
    def root(self) -> Path:
        return STACK / "sftp"

    @property
    def client_dir(self) -> Path:
        return self.dir / "client"

    def prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.client_dir.mkdir(parents=True, exist_ok=True)
        for key in (self.dir / "ssh_host_ed25519_key", self.client_dir / "id_ed25519"):
            if not key.exists():
                subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "winepipe-dev",
                                "-f", str(key)], check=True)
        (self.dir / "authorized_keys").write_text((self.client_dir / "id_ed25519.pub").read_text())
        host_pub = (self.dir / "ssh_host_ed25519_key.pub").read_text().split()
        # The client verifies the server against this file; it never auto-accepts a host key.
        (self.client_dir / "known_hosts").write_text(f"[{HOST}]:{self.port} {host_pub[0]} {host_pub[1]}\n")
        if is_root():
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
        user = getpass.getuser()
        (self.dir / "sshd_config").write_text(f"""\
Port {self.port}
ListenAddress {HOST}
HostKey {self.dir}/ssh_host_ed25519_key
PidFile {self.dir}/sshd.daemon.pid
AuthorizedKeysFile {self.dir}/authorized_keys
AllowUsers {user}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
AllowTcpForwarding no
AllowAgentForwarding no
X11Forwarding no
PermitTTY no
Subsystem sftp internal-sftp
ForceCommand internal-sftp -d {self.root}
""")

    def command(self) -> list[str]:
        return ["/usr/sbin/sshd", "-D", "-e", "-f", str(self.dir / "sshd_config")]

    def healthy(self) -> bool:
        with socket.create_connection((HOST, self.port), timeout=2) as sock:
            return sock.recv(64).startswith(b"SSH-2.0-")


class S3(Service):
    """moto's standalone S3 server over HTTP (MinIO or AWS in production, by endpoint_url)."""

    def __init__(self) -> None:
        super().__init__("s3", PORTS["s3"], [str(VENV_BIN / "moto_server")], "")

    def command(self) -> list[str]:
        return [str(VENV_BIN / "moto_server"), "-H", HOST, "-p", str(self.port)]

    def healthy(self) -> bool:
        with urllib.request.urlopen(f"http://{HOST}:{self.port}/moto-api/", timeout=2) as resp:
            return resp.status == 200

    def after_start(self) -> None:
        import boto3

        s3 = boto3.client("s3", endpoint_url=f"http://{HOST}:{self.port}", region_name="us-east-1",
                          aws_access_key_id=DEV["s3_key"], aws_secret_access_key=DEV["s3_secret"])
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        if DEV["bucket"] not in existing:
            s3.create_bucket(Bucket=DEV["bucket"])


class MariaDB(Service):
    """MariaDB with its own data directory, an application user and local_infile enabled."""

    def __init__(self) -> None:
        super().__init__("mysql", PORTS["mysql"], ["mariadbd", "mariadb-install-db", "mariadb"],
                         "mariadb-server mariadb-client", timeout=90)

    @property
    def socket_path(self) -> Path:
        return self.dir / "mysqld.sock"

    def prepare(self) -> None:
        datadir = self.dir / "data"
        user = "root" if is_root() else getpass.getuser()
        (self.dir / "my.cnf").write_text(f"""\
[mysqld]
user = {user}
datadir = {datadir}
socket = {self.socket_path}
port = {self.port}
bind-address = {HOST}
pid-file = {self.dir}/mariadbd.pid
log-error = {self.dir}/error.log
skip-name-resolve
local-infile = 1
character-set-server = utf8mb4
collation-server = utf8mb4_unicode_ci
innodb_buffer_pool_size = 1G
innodb_log_file_size = 512M
max_allowed_packet = 256M
""")
        if not (datadir / "mysql").exists():
            # The OS user that runs the stack administers it through the socket; nobody else can.
            subprocess.run(
                ["mariadb-install-db", f"--defaults-file={self.dir / 'my.cnf'}", "--skip-test-db",
                 "--auth-root-authentication-method=socket", f"--auth-root-socket-user={user}"],
                check=True, stdout=subprocess.DEVNULL, stderr=open(self.logfile, "ab"),
            )

    def command(self) -> list[str]:
        return [shutil.which("mariadbd") or "mariadbd", f"--defaults-file={self.dir / 'my.cnf'}"]

    def admin(self, sql: str) -> str:
        """Run SQL as the stack's administrator over the unix socket."""
        user = "root" if is_root() else getpass.getuser()
        out = subprocess.run(["mariadb", "--no-defaults", f"--socket={self.socket_path}", "-u", user,
                              "--batch", "--skip-column-names", "-e", sql],
                             check=True, capture_output=True, text=True)
        return out.stdout

    def healthy(self) -> bool:
        return self.admin("SELECT 1").strip() == "1"

    def after_start(self) -> None:
        d = DEV
        # The pipeline's account gets only what a load needs, on its own database and on the
        # per-session databases the tests and the benchmark create (winepipe_test_*, winepipe_bench).
        privileges = ("SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER, "
                      "CREATE TEMPORARY TABLES, LOCK TABLES")
        self.admin(f"""
CREATE DATABASE IF NOT EXISTS `{d['mysql_database']}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS `{d['history_database']}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '{d['mysql_user']}'@'{HOST}' IDENTIFIED BY '{d['mysql_password']}';
GRANT {privileges} ON `{d['mysql_database']}`.* TO '{d['mysql_user']}'@'{HOST}';
GRANT {privileges} ON `winepipe\\_%`.* TO '{d['mysql_user']}'@'{HOST}';
CREATE USER IF NOT EXISTS '{d['history_user']}'@'{HOST}' IDENTIFIED BY '{d['history_password']}';
GRANT ALL PRIVILEGES ON `{d['history_database']}`.* TO '{d['history_user']}'@'{HOST}';
""")


class Redis(Service):
    """redis-server on its own port and directory."""

    def __init__(self) -> None:
        super().__init__("redis", PORTS["redis"], ["redis-server"], "redis-server")

    def prepare(self) -> None:
        (self.dir / "redis.conf").write_text(f"""\
bind {HOST}
port {self.port}
protected-mode yes
daemonize no
dir {self.dir}
dbfilename dump.rdb
save 60 1
appendonly no
""")

    def command(self) -> list[str]:
        return [shutil.which("redis-server") or "redis-server", str(self.dir / "redis.conf")]

    def healthy(self) -> bool:
        with socket.create_connection((HOST, self.port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")


class Luigid(Service):
    """Luigi's central scheduler and visualiser, with task history in MariaDB."""

    def __init__(self) -> None:
        super().__init__("luigid", PORTS["luigid"], [str(VENV_BIN / "luigid")], "")

    def env(self) -> dict[str, str]:
        # luigid reads its own configuration (scheduler, task history), not the pipeline's luigi.cfg.
        env = dict(os.environ)
        env["LUIGI_CONFIG_PATH"] = str(ROOT / "devstack" / "luigid.cfg")
        return env

    def command(self) -> list[str]:
        return [str(VENV_BIN / "luigid"), "--address", HOST, "--port", str(self.port),
                "--state-path", str(self.dir / "luigi-state.pickle"), "--logdir", str(self.dir)]

    def healthy(self) -> bool:
        with urllib.request.urlopen(f"http://{HOST}:{self.port}/api/task_list?data=%7B%7D", timeout=2) as resp:
            return resp.status == 200


# Start order: the scheduler's task history lives in MariaDB.
SERVICES: list[Service] = [Sftp(), S3(), MariaDB(), Redis(), Luigid()]


def by_name(names: list[str]) -> list[Service]:
    known = {s.name: s for s in SERVICES}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise StackError(f"unknown service(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[n] for n in names] if names else list(SERVICES)
