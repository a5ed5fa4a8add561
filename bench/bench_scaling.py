"""Scaling benchmark: requests/s and latency of a read mix with 1, 2 and 4 gunicorn workers.

    DATABASE_URL=postgresql://… PORTAL_SESSION_SECRET=… PORTAL_VAR_DIR=… \\
        .venv/bin/python bench/bench_scaling.py [--workers 1 2 4] [--duration 30] [--clients 8] [--rounds 2]

Serves the database and index named by the environment with ``portal serve`` (production.ini,
gthread workers, rate limits lifted for the benchmark's single client address) and drives it
from this process with ``--clients`` keep-alive connections in a closed loop, for ``--duration``
seconds per worker count, after a warm-up that touches every URL once per worker. The mix:

- 40 % responsibility look-ups (item type × grid code, or a point),
- 25 % searches (keywords, colloquial questions, citations; with and without filters),
- 20 % case pages (the /cases list with filters, a case page, the JSON list),
- 15 % Open311 request lists (with and without service_code).

The load average is read before and after each run: on a shared machine, repeat when it is high.
Not a test; figures go to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
PORTAL = Path(sys.executable).with_name("portal")

SEARCHES = [
    "井盖", "窨井盖缺失谁来管", "夜间施工噪声", "占道经营", "违法建筑拆除", "城市道路管理条例第二十三条",
    "行政处罚法第63条", "垃圾分类", "户外广告设置", "树木砍伐审批", "排水管道堵塞", "共享单车乱停放",
    "渣土运输", "犬只管理", "乱贴小广告", "绿化带破坏",
]


def bench_ini(tmp: Path) -> Path:
    """production.ini with absolute paths and the per-IP limit lifted (one client address here)."""
    source = (ROOT / "production.ini").read_text()
    source = source.replace("%(here)s", str(ROOT))
    source = re.sub(r"(?m)^ratelimit\.anonymous_per_minute = .*$", "ratelimit.anonymous_per_minute = 0", source)
    path = tmp / "bench-scaling.ini"
    path.write_text(source)
    return path


def build_mix(database_url: str, seed: int = 7) -> list[tuple[str, str]]:
    from portal.settings import normalise_database_url

    engine = create_engine(normalise_database_url(database_url))
    with engine.connect() as connection:
        grids = [r[0] for r in connection.execute(text("SELECT code FROM catalogue_areas WHERE level = 'grid' ORDER BY code"))]
        items = [r[0] for r in connection.execute(text(
            "SELECT DISTINCT i.code FROM catalogue_duties d JOIN catalogue_item_types i ON i.id = d.item_type_id "
            "WHERE d.state = 'published' AND i.scheme = 'gbt30428' ORDER BY i.code"))]
        cases = [r[0] for r in connection.execute(text("SELECT id FROM cases ORDER BY id LIMIT 2000"))]
        streets = [r[0] for r in connection.execute(text("SELECT code FROM catalogue_areas WHERE level = 'street'"))]
    engine.dispose()
    rng = random.Random(seed)
    mix: list[tuple[str, str]] = []
    for _ in range(400):
        q = urllib.parse.urlencode({"item_type": rng.choice(items), "area": rng.choice(grids)})
        mix.append(("lookup", f"/api/v1/responsibility?{q}"))
    for _ in range(40):
        lat, lon = 30.2336 + rng.uniform(-0.001, 0.001), 120.0860 + rng.uniform(-0.001, 0.001)
        mix.append(("lookup", f"/api/v1/responsibility?item_type={rng.choice(items)}&lat={lat:.5f}&lon={lon:.5f}"))
    for query in SEARCHES:
        mix.append(("search", "/api/v1/search?" + urllib.parse.urlencode({"q": query})))
        mix.append(("search", "/search?" + urllib.parse.urlencode({"q": query})))
        mix.append(("search", "/api/v1/search?" + urllib.parse.urlencode({"q": query, "type": "article", "page": 2})))
    for _ in range(60):
        mix.append(("cases", f"/cases/{rng.choice(cases)}"))
        mix.append(("cases", "/cases?" + urllib.parse.urlencode({"street": rng.choice(streets), "page": rng.randint(1, 3)})))
        mix.append(("cases", f"/api/v1/cases?page_size=20&street={rng.choice(streets)}"))
    for _ in range(60):
        mix.append(("open311", "/open311/v2/requests.json"))
        mix.append(("open311", f"/open311/v2/requests.json?service_code={rng.choice(items)}"))
    # Weights: 40 / 25 / 20 / 15 by repetition of each kind's URLs.
    weights = {"lookup": 40, "search": 25, "cases": 20, "open311": 15}
    by_kind: dict[str, list[str]] = {}
    for kind, url in mix:
        by_kind.setdefault(kind, []).append(url)
    weighted = []
    for kind, urls in by_kind.items():
        count = weights[kind] * 20
        weighted += [(kind, urls[i % len(urls)]) for i in range(count)]
    rng.shuffle(weighted)
    return weighted


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


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


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def start_server(ini: Path, workers: int, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = open(Path(tempfile.gettempdir()) / f"bench-scaling-{port}.log", "wb")  # noqa: SIM115
    return subprocess.Popen([str(PORTAL), "--config", str(ini), "serve", "--bind", f"127.0.0.1:{port}",
                             "--workers", str(workers)], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def wait_ready(port: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"server on port {port} not ready")


def drive(port: int, mix: list[tuple[str, str]], clients: int, duration: float) -> dict[str, object]:
    latencies: dict[str, list[float]] = {}
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        position = index * (len(mix) // clients)
        mine: dict[str, list[float]] = {}
        while time.monotonic() < stop_at:
            kind, url = mix[position % len(mix)]
            position += 1
            started = time.perf_counter()
            try:
                connection.request("GET", url)
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = f"{type(exc).__name__}"
            elapsed = time.perf_counter() - started
            if status != 200:
                with lock:
                    errors.append(f"{status} {url}")
                continue
            mine.setdefault(kind, []).append(elapsed)
        with lock:
            for kind, values in mine.items():
                latencies.setdefault(kind, []).extend(values)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = sorted(v for values in latencies.values() for v in values)

    def pct(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")

    return {
        "requests": len(every),
        "rps": len(every) / duration,
        "p50_ms": pct(every, 0.50),
        "p99_ms": pct(every, 0.99),
        "by_kind": {kind: {"n": len(v), "p50_ms": pct(sorted(v), 0.5), "p99_ms": pct(sorted(v), 0.99)}
                    for kind, v in sorted(latencies.items())},
        "errors": len(errors),
        "error_samples": errors[:5],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--port", type=int, default=16650)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        # `make bench` runs every benchmark: say what this one needs instead of failing the rest.
        print("bench_scaling: skipped — set DATABASE_URL to a PostgreSQL database built by `portal init` "
              "(and PORTAL_SESSION_SECRET, PORTAL_VAR_DIR; see bench/RESULTS.md)")
        return
    env = dict(os.environ)
    mix = build_mix(env["DATABASE_URL"])
    with tempfile.TemporaryDirectory() as tmp:
        ini = bench_ini(Path(tmp))
        results = []
        for round_no in range(1, args.rounds + 1):
            for workers in args.workers:
                server = start_server(ini, workers, args.port, env)
                try:
                    wait_ready(args.port)
                    # Warm-up: every worker has answered each kind (jieba, snapshot, index readers).
                    drive(args.port, mix, args.clients, 5.0 + 2.0 * workers)
                    before = loadavg()
                    server_pids = process_tree(server.pid)
                    db_pids = database_backends(env["DATABASE_URL"])
                    cpu_before = (cpu_seconds(server_pids), cpu_seconds(db_pids), time.process_time())
                    outcome = drive(args.port, mix, args.clients, args.duration)
                    cpu_after = (cpu_seconds(server_pids), cpu_seconds(db_pids), time.process_time())
                    served = max(1, int(outcome["requests"]))
                    server_cpu, db_cpu, client_cpu = (b - a for a, b in zip(cpu_before, cpu_after, strict=True))
                    outcome.update(workers=workers, round=round_no, load_before=before, load_after=loadavg(),
                                   server_cores=server_cpu / args.duration,
                                   server_cpu_ms=1000 * server_cpu / served, db_cpu_ms=1000 * db_cpu / served,
                                   client_cpu_ms=1000 * client_cpu / served)
                    results.append(outcome)
                    print(f"round {round_no} workers {workers}: {outcome['rps']:.1f} req/s, p50 "
                          f"{outcome['p50_ms']:.1f} ms, p99 {outcome['p99_ms']:.1f} ms, errors {outcome['errors']}, "
                          f"load {before} -> {outcome['load_after']}", flush=True)
                    print(f"    CPU per request: server {outcome['server_cpu_ms']:.1f} ms, PostgreSQL "
                          f"{outcome['db_cpu_ms']:.1f} ms, client {outcome['client_cpu_ms']:.1f} ms; server used "
                          f"{outcome['server_cores']:.2f} cores", flush=True)
                    for kind, figures in outcome["by_kind"].items():
                        print(f"    {kind:8} n={figures['n']:5}  p50 {figures['p50_ms']:7.1f} ms  "
                              f"p99 {figures['p99_ms']:7.1f} ms", flush=True)
                    if outcome["errors"]:
                        print("    errors e.g.:", outcome["error_samples"], flush=True)
                finally:
                    server.terminate()
                    server.wait(timeout=60)
                    time.sleep(2)
        if args.json:
            print(json.dumps(results, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
