"""Load: 50 concurrent clients for 60 s against the production serving configuration.

    DATABASE_URL=postgresql://… PORTAL_SESSION_SECRET=… PORTAL_VAR_DIR=… \\
        .venv/bin/python bench/bench_load.py [--clients 50] [--duration 60] [--keyed 10] [--rounds 2]

Serves the database and index named by the environment with ``portal --config production.ini
serve`` (gunicorn as production.ini configures it; the copy differs only in absolute paths, rate
limits included) on 127.0.0.1, waits for ``/healthz`` as a load balancer does, and then at once
(no warm-up: a node takes traffic as soon as it is healthy) drives it with ``--clients``
keep-alive connections in a closed loop for ``--duration`` seconds.

Each client is one visitor or integration behind the load balancer: it sends its own
``X-Forwarded-For`` address (production.ini trusts 127.0.0.1 as the balancer), so per-address
limits count per client as they would in production. ``--keyed`` of them present an API key
(the default per-key limit) on /api/ and /open311/; one more key has a deliberately small limit
of its own (``--greedy-limit`` per minute), so the 429 path runs under load too.

The mix (weights in ``MIX``) covers the public pages (home, catalogue pages, regulations, article
pages, rulings, bulletins), the look-up (/api/v1/responsibility and the HTML look-up), search (the
page and the API), cases (lists, pages, tracking by code, the JSON API) and Open311 (services and
requests, JSON and XML), with parameters drawn from the database: thousands of distinct URLs.

Reported per route group and overall: requests, statuses, p50/p95/p99/max, the slowest requests
with the second of the run they started in, req/s, CPU of server, PostgreSQL and client, and the
load average. Pass: no status other than 2xx/3xx/429 and no connection error; a maximum latency
under 2 s. Not a test; figures go to bench/RESULTS.md ("Reliability" → "Load").
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import os
import random
import re
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from served_portal import (
    SAMPLE_QUERIES,
    CpuMeter,
    loadavg,
    log_path,
    production_ini,
    start_server,
    stop_server,
    wait_ready,
)
from sqlalchemy import Connection, create_engine, text

GROUPS = ("pages", "lookup", "search", "cases", "open311")
MAX_LATENCY_SECONDS = 2.0
#: Where the bench's users and keys are recognised (and revoked after the run).
BENCH_USER = "bench-load"
#: A lat/lon inside the demo city's grids (the same the scaling bench uses).
CITY_CENTRE = (30.2336, 120.0860)
CSRF_FIELD = re.compile(rb'name="csrf_token" value="([^"]+)"')


@dataclasses.dataclass(frozen=True, slots=True)
class Call:
    """One request of the mix. ``route`` names the kind of URL (for the figures and the
    route-existence test); ``api`` marks the key surfaces, where a keyed client shows its key."""

    group: str
    route: str
    path: str
    api: bool = False
    #: /track: GET the form (for its CSRF token and session), then POST this code
    track_code: str | None = None


@dataclasses.dataclass(slots=True)
class Corpus:
    """Distinct parameters for the mix, read from the database (public, published rows only)."""

    item_types: list[str]
    service_codes: list[str]
    grids: list[str]
    streets: list[str]
    agencies: list[str]
    powers: list[str]
    duties: list[int]
    regulations: list[int]
    articles: list[tuple[int, str]]
    titles: list[str]
    rulings: list[int]
    bulletins: list[str]
    tracking_codes: list[str]
    #: public case ids: what the server lists (discover_case_ids), not every row
    cases: list[int] = dataclasses.field(default_factory=list)


def collect_corpus(connection: Connection, limit: int = 2000) -> Corpus:
    from portal.cases.tracking import demo_tracking_code

    def column(sql: str) -> list[Any]:
        return [row[0] for row in connection.execute(text(sql), {"limit": limit})]

    demo_ids = column("SELECT external_id FROM cases WHERE source = 'demo' AND external_id LIKE 'DEMO-%' "
                      "ORDER BY id DESC LIMIT :limit")
    return Corpus(
        item_types=column("SELECT code FROM catalogue_item_types ORDER BY code LIMIT :limit"),
        service_codes=column(
            "SELECT DISTINCT i.code FROM catalogue_duties d JOIN catalogue_item_types i ON i.id = d.item_type_id "
            "WHERE d.state = 'published' AND i.scheme = 'gbt30428' ORDER BY i.code LIMIT :limit"),
        grids=column("SELECT code FROM catalogue_areas WHERE level = 'grid' ORDER BY code LIMIT :limit"),
        streets=column("SELECT code FROM catalogue_areas WHERE level = 'street' ORDER BY code LIMIT :limit"),
        agencies=column("SELECT code FROM catalogue_agencies ORDER BY code LIMIT :limit"),
        powers=column("SELECT code FROM catalogue_powers ORDER BY code LIMIT :limit"),
        duties=column("SELECT id FROM catalogue_duties WHERE state = 'published' ORDER BY id LIMIT :limit"),
        regulations=column("SELECT id FROM regulations ORDER BY id LIMIT :limit"),
        articles=[(row[0], f"{row[1]}-{row[2]}" if row[2] else str(row[1])) for row in connection.execute(text(
            "SELECT a.regulation_id, a.number, a.suffix FROM regulation_articles a "
            "JOIN regulation_versions v ON v.id = a.version_id WHERE v.is_current ORDER BY a.id LIMIT :limit"),
            {"limit": limit})],
        titles=column("SELECT COALESCE(NULLIF(short_title, ''), title) FROM regulations ORDER BY id LIMIT :limit"),
        rulings=column("SELECT id FROM arbitration_rulings WHERE state = 'published' ORDER BY id LIMIT :limit"),
        bulletins=column("SELECT DISTINCT period FROM bulletins WHERE state = 'published' ORDER BY period LIMIT :limit"),
        # Demo cases' codes can be recomputed (that is what makes a demo of /track possible).
        tracking_codes=[demo_tracking_code(f"demo-{external_id.split('-')[1]}", external_id)
                        for external_id in demo_ids],
    )


def discover_case_ids(fetch_json: Callable[[str], Any], pages: int = 5) -> list[int]:
    """Public case ids, as a client finds them: from the API's list (hidden kinds never appear)."""
    ids: list[int] = []
    for page in range(1, pages + 1):
        body = fetch_json(f"/api/v1/cases?page_size=100&page={page}")
        found = [int(item["id"]) for item in body.get("items", body.get("cases", []))]
        ids += found
        if len(found) < 100:
            break
    return ids


def search_queries(corpus: Corpus, rng: random.Random) -> list[str]:
    """What people type: the sample queries, regulation titles, citations, item names as questions."""
    queries = list(SAMPLE_QUERIES) + corpus.titles[:60]
    queries += [f"{title}第{rng.randint(1, 30)}条" for title in rng.sample(corpus.titles, min(40, len(corpus.titles)))]
    return queries


def build_mix(corpus: Corpus, seed: int = 11, size: int = 4000) -> list[Call]:
    """``size`` calls drawn by the weights of MIX, each with its own random parameters."""
    rng = random.Random(seed)
    queries = search_queries(corpus, rng)
    day = "2026-{:02d}-{:02d}"

    def pick(values: Sequence[Any]) -> Any:
        return rng.choice(values)

    def q(**params: Any) -> str:
        return urllib.parse.urlencode(params)

    def point() -> str:
        lat, lon = CITY_CENTRE
        return f"lat={lat + rng.uniform(-0.001, 0.001):.5f}&lon={lon + rng.uniform(-0.001, 0.001):.5f}"

    # (weight, group, route, maker, api?, needs): a maker returns the path (or a tracking code).
    makers: list[tuple[int, str, str, Callable[[], str], bool, Sequence[Any]]] = [
        (5, "pages", "home", lambda: "/", False, [1]),
        (2, "pages", "catalogue", lambda: "/catalogue", False, [1]),
        (4, "pages", "catalogue.item_type", lambda: f"/catalogue/item-types/{pick(corpus.item_types)}", False,
         corpus.item_types),
        (1, "pages", "catalogue.agencies", lambda: "/catalogue/agencies", False, [1]),
        (1, "pages", "catalogue.areas", lambda: "/catalogue/areas", False, [1]),
        (1, "pages", "catalogue.powers", lambda: "/catalogue/powers", False, [1]),
        (2, "pages", "catalogue.power", lambda: f"/catalogue/powers/{pick(corpus.powers)}", False, corpus.powers),
        # (the HTML duty list is a staff page: visitors and integrations read the API's)
        (2, "lookup", "api.duties",
         lambda: f"/api/v1/duties?{q(item_type=pick(corpus.service_codes), area=pick(corpus.streets), within='true')}",
         True, corpus.service_codes),
        (2, "pages", "catalogue.duty", lambda: f"/catalogue/duties/{pick(corpus.duties)}", False, corpus.duties),
        (2, "pages", "regulations", lambda: "/regulations", False, [1]),
        (2, "pages", "regulations.detail", lambda: f"/regulations/{pick(corpus.regulations)}", False,
         corpus.regulations),
        (5, "pages", "regulations.article", lambda: "/regulations/{}/articles/{}".format(*pick(corpus.articles)),
         False, corpus.articles),
        (1, "pages", "rulings", lambda: "/rulings", False, [1]),
        (1, "pages", "rulings.stats", lambda: "/rulings/stats", False, [1]),
        (1, "pages", "rulings.ruling", lambda: f"/rulings/{pick(corpus.rulings)}", False, corpus.rulings),
        (1, "pages", "bulletins", lambda: "/bulletins", False, [1]),
        (1, "pages", "bulletins.indicators", lambda: "/bulletins/indicators", False, [1]),
        (1, "pages", "bulletins.detail", lambda: f"/bulletins/{pick(corpus.bulletins)}", False, corpus.bulletins),
        (12, "lookup", "api.responsibility",
         lambda: f"/api/v1/responsibility?{q(item_type=pick(corpus.service_codes), area=pick(corpus.grids))}", True,
         corpus.grids),
        (4, "lookup", "api.responsibility.point",
         lambda: f"/api/v1/responsibility?item_type={pick(corpus.service_codes)}&{point()}", True,
         corpus.service_codes),
        (9, "lookup", "catalogue.lookup",
         lambda: f"/catalogue/lookup?{q(item_type=pick(corpus.service_codes), area=pick(corpus.grids))}", False,
         corpus.grids),
        (9, "search", "search.page", lambda: f"/search?{q(q=pick(queries))}", False, [1]),
        (6, "search", "search.api", lambda: f"/api/v1/search?{q(q=pick(queries))}", True, [1]),
        (3, "search", "search.api.articles",
         lambda: f"/api/v1/search?{q(q=pick(queries), type='article', page=rng.randint(1, 3))}", True, [1]),
        (2, "cases", "cases.list", lambda: f"/cases?{q(street=pick(corpus.streets))}", False, corpus.streets),
        # Deeper pages of the whole list, as far as it surely goes (50 a page).
        (1, "cases", "cases.list.page", lambda: f"/cases?page={rng.randint(1, max(1, min(5, len(corpus.cases) // 50)))}",
         False, corpus.cases),
        (2, "cases", "cases.list.period",
         lambda: "/cases?" + q(**{"item_type": pick(corpus.service_codes), "from": day.format(rng.randint(1, 6), 1),
                                  "to": day.format(rng.randint(7, 11), 28)}), False, corpus.service_codes),
        (4, "cases", "cases.detail", lambda: f"/cases/{pick(corpus.cases)}", False, corpus.cases),
        (2, "cases", "cases.track", lambda: pick(corpus.tracking_codes), False, corpus.tracking_codes),
        (3, "cases", "api.cases", lambda: f"/api/v1/cases?{q(page_size=20, street=pick(corpus.streets))}", True,
         corpus.streets),
        (1, "cases", "api.case", lambda: f"/api/v1/cases/{pick(corpus.cases)}", True, corpus.cases),
        (2, "open311", "open311.services.json", lambda: "/open311/v2/services.json", True, [1]),
        (1, "open311", "open311.services.xml", lambda: "/open311/v2/services.xml", True, [1]),
        (3, "open311", "open311.requests.json",
         lambda: f"/open311/v2/requests.json?service_code={pick(corpus.service_codes)}", True, corpus.service_codes),
        (1, "open311", "open311.requests.json.all", lambda: "/open311/v2/requests.json", True, [1]),
        (2, "open311", "open311.requests.xml",
         lambda: f"/open311/v2/requests.xml?{q(service_code=pick(corpus.service_codes), status='closed')}", True,
         corpus.service_codes),
        (2, "open311", "open311.request", lambda: f"/open311/v2/requests/{pick(corpus.cases)}.json", True,
         corpus.cases),
    ]
    usable = [entry for entry in makers if entry[5]]  # no rulings, no bulletins yet: not asked for
    weights = [entry[0] for entry in usable]
    calls = []
    for weight, group, route, maker, api, _ in rng.choices(usable, weights=weights, k=size):
        del weight
        if route == "cases.track":
            calls.append(Call(group, route, "/track", api, track_code=maker()))
        else:
            calls.append(Call(group, route, maker(), api))
    return calls


def routes_of(corpus: Corpus) -> list[Call]:
    """One call of every route of the mix (the route-existence test walks these)."""
    seen: dict[str, Call] = {}
    for call in build_mix(corpus, size=3000):
        seen.setdefault(call.route, call)
    return list(seen.values())


@dataclasses.dataclass(frozen=True, slots=True)
class Sample:
    group: str
    route: str
    keyed: bool
    status: int  # 0: no HTTP answer (connection refused, reset, timed out)
    seconds: float
    started: float  # seconds into the run
    path: str


class Client(threading.Thread):
    """One keep-alive connection in a closed loop, as one address behind the balancer."""

    def __init__(self, index: int, port: int, calls: list[Call], key: str | None, start: float,
                 stop_at: float) -> None:
        super().__init__(name=f"client-{index}", daemon=True)
        self.port = port
        self.calls = calls
        self.position = index * (len(calls) // 50 + 1)
        self.address = f"10.77.{index // 250}.{index % 250 + 1}"
        self.key = key
        self.start_time = start
        self.stop_at = stop_at
        self.samples: list[Sample] = []
        self.connection = self._connect()

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def send(self, call: Call, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, bytes, http.client.HTTPMessage | None]:
        sent = {"X-Forwarded-For": self.address, **(headers or {})}
        keyed = call.api and self.key is not None
        if keyed:
            sent["Authorization"] = f"Bearer {self.key}"
        started = time.perf_counter()
        try:
            self.connection.request(method, path, body=body, headers=sent)
            response = self.connection.getresponse()
            data = response.read()
            status, message = response.status, response.msg
        except (OSError, http.client.HTTPException):
            self.connection.close()
            self.connection = self._connect()
            status, data, message = 0, b"", None
        elapsed = time.perf_counter() - started
        self.samples.append(Sample(call.group, call.route, keyed, status, elapsed, started - self.start_time,
                                   f"{method} {path}"))
        return status, data, message

    def track(self, call: Call) -> None:
        """A citizen's tracking: the form (session cookie, CSRF token), then the code, by POST."""
        form_call = dataclasses.replace(call, route="cases.track.form")
        status, page, message = self.send(form_call, "GET", "/track")
        token = CSRF_FIELD.search(page)
        if status != 200 or token is None or message is None:
            return
        cookies = "; ".join(value.split(";", 1)[0] for value in message.get_all("Set-Cookie") or [])
        body = urllib.parse.urlencode({"csrf_token": token.group(1).decode(), "tracking_code": call.track_code})
        self.send(call, "POST", "/track", body.encode(),
                  {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookies})

    def run(self) -> None:
        while time.perf_counter() < self.stop_at:
            call = self.calls[self.position % len(self.calls)]
            self.position += 1
            if call.track_code is not None:
                self.track(call)
            else:
                self.send(call, "GET", call.path)
        self.connection.close()


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def latency_figures(samples: list[Sample]) -> dict[str, Any]:
    ordered = sorted(s.seconds for s in samples)
    return {"n": len(samples), "p50_ms": 1000 * percentile(ordered, 0.50), "p95_ms": 1000 * percentile(ordered, 0.95),
            "p99_ms": 1000 * percentile(ordered, 0.99), "max_ms": 1000 * (ordered[-1] if ordered else float("nan"))}


def summarise(samples: list[Sample], duration: float) -> dict[str, Any]:
    statuses = Counter(s.status for s in samples)
    errors = [s for s in samples if not (200 <= s.status < 400 or s.status == 429)]
    by_group = {group: latency_figures([s for s in samples if s.group == group]) for group in GROUPS}
    for group in GROUPS:
        by_group[group]["statuses"] = dict(sorted(Counter(s.status for s in samples if s.group == group).items()))
    return {
        "requests": len(samples),
        "rps": len(samples) / duration,
        "overall": latency_figures(samples),
        "by_group": by_group,
        "keyed": latency_figures([s for s in samples if s.keyed]),
        "anonymous": latency_figures([s for s in samples if not s.keyed]),
        "statuses": dict(sorted(statuses.items())),
        "errors": len(errors),
        "error_samples": [f"{s.status} {s.path}" for s in errors[:10]],
        "rate_limited": statuses.get(429, 0),
        "slowest": [f"{1000 * s.seconds:.0f} ms at {s.started:.1f} s {s.status} {s.path}"
                    for s in sorted(samples, key=lambda s: -s.seconds)[:12]],
        "over_2s": sum(1 for s in samples if s.seconds > MAX_LATENCY_SECONDS),
        "per_second_max_ms": per_second_max(samples),
    }


def per_second_max(samples: list[Sample]) -> list[int]:
    """The slowest request started in each second of the run (finds stalls: start-up, GC, restarts)."""
    worst: dict[int, float] = {}
    for s in samples:
        second = int(s.started)
        worst[second] = max(worst.get(second, 0.0), s.seconds)
    return [round(1000 * worst.get(second, 0.0)) for second in range(max(worst, default=-1) + 1)]


def server_side(log_path: Path) -> dict[str, Any]:
    """The app's own durations of the bench's requests, from the server's JSON access log: time
    inside the portal, without the wait for a free worker thread (the rest of the client's latency)."""
    durations: list[float] = []
    by_path: list[tuple[float, str]] = []
    for line in log_path.read_text(errors="replace").splitlines():
        if '"portal.access"' not in line or '"client": "10.77.' not in line or "10.77.255." in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        durations.append(entry["duration_ms"] / 1000)
        by_path.append((entry["duration_ms"], f"{entry['method']} {entry['path']}"))
    figures = latency_figures([Sample("", "", False, 200, d, 0.0, "") for d in durations])
    figures["slowest"] = [f"{ms:.0f} ms {path}" for ms, path in sorted(by_path, reverse=True)[:8]]
    return figures


def connections_per_worker(port: int) -> dict[str, int]:
    """Established connections of the listening port per worker process (``ss``): with keep-alive
    a connection stays with the worker that accepted it, so this is how the load is shared."""
    try:
        listing = subprocess.run(["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
                                 capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return dict(Counter(match.group(1) for match in re.finditer(r"pid=(\d+)", listing)))


def make_keys(database_url: str, keyed: int, greedy_limit: int) -> tuple[list[str], str]:
    """``keyed`` keys with the default limit and one with ``greedy_limit`` per minute, for a
    bench user (created once); previous runs' keys are revoked first."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from portal.accounts.models import ApiKey
    from portal.accounts.services import DatabaseApiKeyService, DatabaseUserService
    from portal.settings import normalise_database_url

    engine = create_engine(normalise_database_url(database_url))
    with Session(engine, info={"actor_name": BENCH_USER}) as session:
        users = DatabaseUserService(session)
        user = users.by_username(BENCH_USER) or users.create(BENCH_USER, None, ["dispatcher"], "负载测试")
        keys = DatabaseApiKeyService(session)
        for old in session.scalars(select(ApiKey).where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))):
            keys.revoke(old.id)
        secrets = [keys.create(user, f"bench-load {i}")[1] for i in range(keyed)]
        greedy = keys.create(user, "bench-load greedy", rate_limit_per_minute=greedy_limit)[1]
        session.commit()
    engine.dispose()
    return secrets, greedy


def run(port: int, calls: list[Call], clients: int, keys: list[str | None],
        duration: float) -> tuple[list[Sample], dict[str, int]]:
    """The samples of every client, and the connections per worker half-way through."""
    start = time.perf_counter()
    workers = [Client(i, port, calls, keys[i] if i < len(keys) else None, start, start + duration)
               for i in range(clients)]
    for worker in workers:
        worker.start()
    time.sleep(duration / 2)
    spread = connections_per_worker(port)
    for worker in workers:
        worker.join()
    return [sample for worker in workers for sample in worker.samples], spread


def print_outcome(label: str, outcome: dict[str, Any]) -> None:
    overall = outcome["overall"]
    print(f"{label}: {outcome['requests']} requests, {outcome['rps']:.1f} req/s; p50 {overall['p50_ms']:.0f} ms, "
          f"p95 {overall['p95_ms']:.0f}, p99 {overall['p99_ms']:.0f}, max {overall['max_ms']:.0f} ms; "
          f"errors {outcome['errors']}, 429 {outcome['rate_limited']}; statuses {outcome['statuses']}", flush=True)
    print(f"    load {outcome['load_before']} -> {outcome['load_after']}; server {outcome['server_cores']:.2f} cores, "
          f"CPU per request: server {outcome['server_cpu_ms']:.1f} ms, PostgreSQL {outcome['db_cpu_ms']:.1f} ms, "
          f"client {outcome['client_cpu_ms']:.1f} ms; ready after {outcome['ready_seconds']:.1f} s", flush=True)
    for name, figures in [*outcome["by_group"].items(), ("keyed", outcome["keyed"]),
                          ("anonymous", outcome["anonymous"])]:
        print(f"    {name:9} n={figures['n']:5}  p50 {figures['p50_ms']:6.0f}  p95 {figures['p95_ms']:6.0f}  "
              f"p99 {figures['p99_ms']:6.0f}  max {figures['max_ms']:6.0f} ms  {figures.get('statuses', '')}",
              flush=True)
    inside = outcome["server_side"]
    print(f"    inside the portal (access log): p50 {inside['p50_ms']:.0f}  p95 {inside['p95_ms']:.0f}  "
          f"p99 {inside['p99_ms']:.0f}  max {inside['max_ms']:.0f} ms; connections per worker "
          f"{outcome['connections_per_worker']}; {outcome['distinct_urls']} distinct URLs", flush=True)
    print("    slowest:", *outcome["slowest"][:8], sep="\n      ", flush=True)
    print("    slowest inside:", *inside["slowest"][:5], sep="\n      ", flush=True)
    print("    slowest per second:", outcome["per_second_max_ms"], flush=True)
    if outcome["errors"]:
        print("    errors e.g.:", outcome["error_samples"], flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--keyed", type=int, default=10, help="clients presenting an API key (default limit)")
    parser.add_argument("--greedy-limit", type=int, default=10,
                        help="requests per minute of one more keyed client's own limit (0: no such client)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--settle", type=float, default=0.0,
                        help="seconds to wait between /healthz ready and the load (default 0: at once)")
    parser.add_argument("--port", type=int, default=16660)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        # `make bench` runs every benchmark: say what this one needs instead of failing the rest.
        print("bench_load: skipped — set DATABASE_URL to a PostgreSQL database built by `portal init` and "
              "`portal demo-data` (and PORTAL_SESSION_SECRET, PORTAL_VAR_DIR; see bench/RESULTS.md)")
        return
    from portal.settings import normalise_database_url

    engine = create_engine(normalise_database_url(database_url))
    with engine.connect() as connection:
        corpus = collect_corpus(connection)
    engine.dispose()
    secrets, greedy = make_keys(database_url, args.keyed, args.greedy_limit)
    keys: list[str | None] = [*secrets, *([greedy] if args.greedy_limit else [])]
    env = dict(os.environ)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        ini = production_ini(Path(tmp), name="bench-load.ini")
        for round_no in range(1, args.rounds + 1):
            server = start_server(ini, args.port, env, log_name="bench-load")
            try:
                ready = wait_ready(args.port)
                time.sleep(args.settle)
                if not corpus.cases:
                    corpus.cases = discover_case_ids(lambda path: fetch_json(args.port, path))
                calls = build_mix(corpus, seed=round_no)
                before = loadavg()
                cpu = CpuMeter(server.pid, database_url)
                samples, spread = run(args.port, calls, args.clients, keys, args.duration)
                outcome = summarise(samples, args.duration)
                outcome.update(cpu.figures(outcome["requests"], args.duration))
                outcome.update(round=round_no, clients=args.clients, duration=args.duration, load_before=before,
                               load_after=loadavg(), ready_seconds=ready, distinct_urls=len({c.path for c in calls}),
                               connections_per_worker=spread, server_side=server_side(log_path(args.port, "bench-load")))
                results.append(outcome)
                print_outcome(f"round {round_no}", outcome)
            finally:
                stop_server(server)
                time.sleep(2)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    failed = [r for r in results if r["errors"] or r["overall"]["max_ms"] > 1000 * MAX_LATENCY_SECONDS]
    if failed:
        raise SystemExit(f"bench_load: {len(failed)} round(s) with errors or a request over {MAX_LATENCY_SECONDS} s")


def fetch_json(port: int, path: str) -> Any:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path, headers={"X-Forwarded-For": "10.77.255.1"})
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


if __name__ == "__main__":
    main()
