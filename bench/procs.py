"""Child processes for the benchmarks: spawn, wait for a port, stop by process group, and read memory from /proc."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Variables of the calling shell that must not leak into a child's configuration.
_PRIVATE = {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "REDIS_KEY_PREFIX", "DEBUG", "SECRET_KEY"}


def clean_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _PRIVATE and not k.startswith(("S3_", "WORKER_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (peak RSS) in kB and Threads of ``pid``, from /proc/<pid>/status; empty if it is gone."""
    wanted = {"VmRSS", "VmHWM", "Threads"}
    values: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return values
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in wanted:
            values[key] = int(rest.split()[0])
    return values


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far, from /proc/<pid>/stat; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def service_pids() -> dict[str, int]:
    """The PostgreSQL postmaster and the Redis server on this machine (the services the stack shares), by name.

    A process counts when its command is the service's and its parent's is not: the postmaster, not a backend. Its
    backends are its children, so a meter that follows child processes counts the database's work."""
    wanted = {"postgres": "postgresql", "redis-server": "redis"}
    comm: dict[int, tuple[str, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name, _, rest = (entry / "stat").read_text().partition(" (")[2].rpartition(")")
        except OSError:
            continue
        comm[int(entry.name)] = (name, int(rest.split()[1]))
    found: dict[str, int] = {}
    for pid, (name, parent) in sorted(comm.items()):
        if name in wanted and comm.get(parent, ("", 0))[0] != name and wanted[name] not in found:
            found[wanted[name]] = pid
    return found


def rss_mb(pid: int) -> float:
    return round(proc_status(pid).get("VmRSS", 0) / 1024, 1)


def peak_mb(pid: int) -> float:
    return round(proc_status(pid).get("VmHWM", 0) / 1024, 1)


@dataclass
class Process:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self, tail: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 60.0) -> tuple[float, int | None]:
        """SIGTERM the process group, wait up to ``timeout`` (then SIGKILL); (seconds it took, exit code)."""
        started = time.monotonic()
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        return time.monotonic() - started, self.process.returncode


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the process exited with {process.returncode} before listening on {port}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout} s")


def spawn(
    name: str, command: list[str], env: dict[str, str], log_path: Path, port: int, timeout: float = 60
) -> Process:
    """Start ``command`` in its own process group and wait until it listens on ``port``."""
    with log_path.open("ab") as out:
        popen = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    handle = Process(name=name, process=popen, log_path=log_path, port=port)
    try:
        wait_for_port(port, popen, timeout)
    except (TimeoutError, RuntimeError) as error:
        handle.stop(timeout=10)
        raise RuntimeError(f"{name}: {error}\n--- log ---\n{handle.log()}") from None
    return handle


def wait_for_log(process: Process, text: str, timeout: float) -> float:
    """Seconds until ``text`` appears in the process's log (bounded); raises if it never does or the process dies."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if text in process.log(tail=200_000):
            return time.monotonic() - started
        if not process.alive():
            raise RuntimeError(f"{process.name} exited with {process.process.returncode}:\n{process.log()}")
        time.sleep(0.1)
    raise TimeoutError(f"{process.name} never logged {text!r} within {timeout} s:\n{process.log()}")
