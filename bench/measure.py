"""Running one contender as a fresh subprocess: wall time, peak RSS of its whole process tree, time cap.

Peak RSS: a sampler thread sums the resident set (``/proc/<pid>/statm``) of every process of the contender's
tree every 0.2 s (the JVMs and PySpark workers included) and keeps the maximum of that sum. The tree is every
process in the contender's session (it starts in a new one) plus the descendants of its first process, so a
child that re-parents or starts its own session is still counted. ``getrusage(RUSAGE_CHILDREN).ru_maxrss``
would give the largest *single* process instead, not the sum. Servers the contender talks to (MariaDB, moto,
Redis, sshd) are shared and not counted. A 0.2 s sampler can miss a peak shorter than that. A child caught
between ``vfork`` and ``exec`` (Spark's ``Utils.deleteRecursively`` starts ``rm -rf`` through ``posix_spawn``
when the JVM shuts down) still runs in its parent's memory and reports the parent's ``statm``: it is not counted
twice (``resident_total``).
"""
from __future__ import annotations

import os
import platform
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
SAMPLE_INTERVAL = 0.2


@dataclass
class Run:
    """One timed run of a contender."""

    ok: bool
    seconds: float
    peak_rss_bytes: int
    returncode: int | None
    reason: str = ""
    log: str = ""
    rows: int | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _stat(pid: str) -> tuple[int, int] | None:
    """(ppid, session id) of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), int(fields[3])


def tree_rss(root: int) -> int:
    """Sum of the resident set sizes of ``root``'s session and descendants, in bytes."""
    parents: dict[int, int] = {}
    members: set[int] = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = _stat(name)
        if st is None:
            continue
        pid = int(name)
        parents[pid] = st[0]
        if st[1] == root or pid == root:
            members.add(pid)
    changed = True
    while changed:  # descendants that left the session
        changed = False
        for pid, ppid in parents.items():
            if ppid in members and pid not in members:
                members.add(pid)
                changed = True
    statm: dict[int, tuple[int, int]] = {}
    for pid in members:
        try:
            size, resident = Path(f"/proc/{pid}/statm").read_text().split()[:2]
            statm[pid] = (int(size), int(resident))
        except (OSError, ValueError):
            pass
    return resident_total(statm, parents) * PAGE


def resident_total(statm: dict[int, tuple[int, int]], parents: dict[int, int]) -> int:
    """Sum of the resident pages of the processes in ``statm`` ({pid: (size, resident) in pages}).

    A process whose virtual size equals its parent's to the page shares its parent's memory: a ``vfork`` child
    before its ``exec``, or a ``fork`` child that has not yet mapped memory of its own (its pages are its
    parent's until written). It is counted once, with its parent. The resident sets are not compared: the two
    are read one after the other, and a running parent's resident set moves in between. Without this, a
    TransformWine run once reported a peak of 4,493 MiB, twice the JVM's 2.2 GiB, against 2.5 GiB in the other
    runs.
    """
    return sum(resident for pid, (size, resident) in statm.items()
               if size != statm.get(parents.get(pid, -1), (None,))[0])


class _Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, tree_rss(self.pid))
            except Exception:  # noqa: BLE001 - a vanished process mid-scan; next sample
                pass
            self.stop.wait(SAMPLE_INTERVAL)


# Failure causes worth naming, looked for in the contender's output (first match wins).
_REASONS = (
    ("proto-max-bulk-len", "Redis refused the value: over proto-max-bulk-len (512 MB)"),
    ("invalid bulk length", "Redis refused the value: over proto-max-bulk-len (512 MB)"),
    ("string exceeds maximum allowed size", "Redis refused the value: over proto-max-bulk-len (512 MB)"),
    ("spark.driver.maxResultSize", "collect() over spark.driver.maxResultSize"),
    ("OutOfMemoryError", "out of memory (Java heap)"),
    ("MemoryError", "out of memory (Python)"),
    ("Cannot allocate memory", "out of memory"),
)


def failure_reason(returncode: int | None, output: str) -> str:
    for needle, reason in _REASONS:
        if needle in output:
            return reason
    if returncode is not None and returncode < 0:
        sig = -returncode
        name = signal.Signals(sig).name if sig in signal.valid_signals() else str(sig)
        return f"killed by {name}" + (" (likely the kernel's out-of-memory killer)" if sig == 9 else "")
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "Error" in ln or "error" in ln or "Exception" in ln or "FAILED" in ln]
    last = (errors or lines or ["no output"])[-1]
    return f"exit code {returncode}: {last[:300]}"


def run_measured(cmd: list[str], *, env: dict[str, str], cwd: Path, log_path: Path, time_cap: float) -> Run:
    """Run ``cmd`` to completion (or the time cap) in its own session; stdout+stderr go to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as logf:
        logf.write(("$ " + " ".join(cmd) + "\n").encode())
        logf.flush()
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=logf,
                                stderr=subprocess.STDOUT, start_new_session=True)
        sampler = _Sampler(proc.pid)
        sampler.start()
        timed_out = False
        try:
            proc.wait(timeout=time_cap)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
        except BaseException:
            _kill_group(proc)
            raise
        finally:
            seconds = time.perf_counter() - started
            sampler.stop.set()
            sampler.join()
    output = log_path.read_text(encoding="utf-8", errors="replace")
    if timed_out:
        return Run(False, seconds, sampler.peak, None, f"over the time cap of {time_cap:.0f} s", str(log_path))
    ok = proc.returncode == 0
    reason = "" if ok else failure_reason(proc.returncode, output)
    return Run(ok, seconds, sampler.peak, proc.returncode, reason, str(log_path))


def _kill_group(proc: subprocess.Popen) -> None:
    """End the contender's own process group (it was started in a new session: pgid == its pid)."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 15)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def machine() -> dict:
    """Cores, memory, CPU model, load and versions: what a reader needs to weigh the numbers."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    java = ""
    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30)
        java = (out.stderr or out.stdout).splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        pass
    return {
        "cores": os.cpu_count(),
        "memory_bytes": mem,
        "cpu_model": model or platform.processor(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "java": java,
        "loadavg_at_start": list(os.getloadavg()),
    }
