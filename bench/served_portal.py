"""The portal as production serves it, for the benchmarks that drive it over HTTP on loopback.

``portal --config production.ini serve`` (gunicorn, the ini's ``[server:main]``) on the database,
index and var directory named by the environment (``DATABASE_URL``, ``PORTAL_SESSION_SECRET``,
``PORTAL_VAR_DIR``), plus what a benchmark reads around a run: the load average and the CPU time
of the server's processes and of the PostgreSQL backends serving its database (``/proc``), which
stays meaningful when the machine is shared. Used by ``bench_scaling.py`` and ``bench_load.py``.
"""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
PORTAL = Path(sys.executable).with_name("portal")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

#: What people and dispatchers type into a search box: keywords, colloquial questions, citations.
SAMPLE_QUERIES = [
    "井盖", "窨井盖缺失谁来管", "夜间施工噪声", "占道经营", "违法建筑拆除", "城市道路管理条例第二十三条",
    "行政处罚法第63条", "垃圾分类", "户外广告设置", "树木砍伐审批", "排水管道堵塞", "共享单车乱停放",
    "渣土运输", "犬只管理", "乱贴小广告", "绿化带破坏",
]


def production_ini(directory: Path, settings: dict[str, str] | None = None, name: str = "bench.ini") -> Path:
    """production.ini with absolute paths (the copy lives in ``directory``), and ``settings``
    of ``[app:main]`` replaced, e.g. ``{"ratelimit.anonymous_per_minute": "0"}``."""
    source = (ROOT / "production.ini").read_text().replace("%(here)s", str(ROOT))
    for key, value in (settings or {}).items():
        source, count = re.subn(rf"(?m)^{re.escape(key)} = .*$", f"{key} = {value}", source)
        if not count:
            source = source.replace("[app:main]\n", f"[app:main]\n{key} = {value}\n", 1)
    path = directory / name
    path.write_text(source)
    return path


def log_path(port: int, log_name: str = "bench-server") -> Path:
    """Where :func:`start_server` writes the server's output (gunicorn's lines, the access log)."""
    return Path(tempfile.gettempdir()) / f"{log_name}-{port}.log"


def start_server(ini: Path, port: int, env: dict[str, str], workers: int | None = None,
                 log_name: str = "bench-server") -> subprocess.Popen[bytes]:
    """``portal serve`` on 127.0.0.1:``port`` (``workers`` from the ini unless given); its output
    goes to :func:`log_path`."""
    command = [str(PORTAL), "--config", str(ini), "serve", "--bind", f"127.0.0.1:{port}"]
    if workers is not None:
        command += ["--workers", str(workers)]
    log: IO[bytes] = open(log_path(port, log_name), "wb")  # noqa: SIM115 - the server keeps it for its lifetime
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def wait_ready(port: int, timeout: float = 300) -> float:
    """Wait until ``/healthz`` answers 200 (what a load balancer waits for); the seconds it took."""
    started = time.monotonic()
    deadline = started + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"server on port {port} not ready after {timeout:.0f} s")


def stop_server(server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    server.terminate()
    server.wait(timeout=timeout)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants (the gunicorn master and its workers)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def database_backends(database_url: str) -> list[int]:
    """PostgreSQL backend processes serving the benchmark's database (same machine)."""
    from portal.settings import normalise_database_url

    engine = create_engine(normalise_database_url(database_url))
    with engine.connect() as connection:
        pids = [r[0] for r in connection.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"))]
    engine.dispose()
    return pids


class CpuMeter:
    """CPU time over a run of the server's processes, the PostgreSQL backends serving its
    database, and this (the client) process; started at construction."""

    def __init__(self, server_pid: int, database_url: str) -> None:
        self.server_pid = server_pid
        self.database_pids = database_backends(database_url)
        self.before = self._read()

    def _read(self) -> tuple[float, float, float]:
        return (cpu_seconds(process_tree(self.server_pid)), cpu_seconds(self.database_pids), time.process_time())

    def figures(self, requests: int, duration: float) -> dict[str, float]:
        """Cores the server used, and CPU milliseconds per request of server, database and client."""
        server, database, client = (b - a for a, b in zip(self.before, self._read(), strict=True))
        served = max(1, requests)
        return {"server_cores": server / duration, "server_cpu_ms": 1000 * server / served,
                "db_cpu_ms": 1000 * database / served, "client_cpu_ms": 1000 * client / served}
