"""Two portal nodes as in production: real `portal serve` (gunicorn) processes on loopback ports,
each with its own var directory and search index replica, one PostgreSQL database, one Redis.

The database is small (the knowledge base without the national law pack, no demo cases), so that
the whole module takes about a minute, most of it loading the catalogue and starting workers.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from portal.settings import normalise_database_url

ROOT = Path(__file__).resolve().parents[2]
PORTAL = Path(sys.executable).with_name("portal")
GRID = "3301990010100101"
DOG_RULE = """\
青石市犬只文明饲养管理规定
【发布部门】青石市人民政府　【发文字号】青石市人民政府令第19号
第一条　为了规范养犬行为，制定本规定。
第二条　携犬出户应当束犬链，并及时清除犬只粪便。
第三条　本规定自2020年1月1日起施行。
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


def call(url: str, method: str = "GET", body: Any = None, key: str | None = None, timeout: float = 30) -> Answer:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, dict(response.headers), json.loads(response.read() or b"null"))
    except urllib.error.HTTPError as error:
        payload = error.read()
        return Answer(error.code, dict(error.headers), json.loads(payload) if payload else None)


@dataclass
class Node:
    url: str
    var_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@dataclass
class Cluster:
    a: Node
    b: Node
    env: dict[str, str]
    database_url: str
    editor_key: str
    reviewer_key: str
    dispatcher_key: str
    hammer_key: str
    hammer_limit: int
    usage_key: str
    usage_key_id: str


def _portal(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = subprocess.run([str(PORTAL), "--config", str(ROOT / "production.ini"), *args], env=env, cwd=ROOT,
                            input=stdin, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


def _api_key(output: str) -> str:
    return next(word for word in output.split() if word.startswith("cdp_"))


def _start(env: dict[str, str], var_dir: Path) -> Node:
    port = _free_port()
    log_path = var_dir.with_suffix(".log")
    handle = open(log_path, "wb")  # noqa: SIM115 - the process writes to it until the end
    process = subprocess.Popen(
        [str(PORTAL), "--config", str(ROOT / "production.ini"), "serve", "--bind", f"127.0.0.1:{port}",
         "--workers", "2"],
        env={**env, "PORTAL_VAR_DIR": str(var_dir)}, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT)
    return Node(f"http://127.0.0.1:{port}", var_dir, process, log_path)


def _wait_ready(node: Node, deadline: float) -> dict[str, Any]:
    while time.monotonic() < deadline:
        assert node.process.poll() is None, node.log()
        try:
            answer = call(node.url + "/healthz", timeout=5)
        except (urllib.error.URLError, OSError):
            answer = None
        if answer is not None and answer.status == 200:
            return answer.body
        time.sleep(0.5)
    raise AssertionError(f"{node.url} not ready:\n{node.log()}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    import redis

    from tests.conftest import POSTGRES_URL, REDIS_URL, _postgres_admin_engine, _require

    admin = _postgres_admin_engine()
    _require(f"PostgreSQL at {POSTGRES_URL}", admin is not None)
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        redis_up = True
    except (redis.RedisError, OSError):
        redis_up = False
    _require(f"Redis at {REDIS_URL}", redis_up)

    name = f"portal_multinode_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    database_url = make_url(normalise_database_url(POSTGRES_URL)).set(database=name).render_as_string(
        hide_password=False)
    base = tmp_path_factory.mktemp("multinode")
    prefix = f"portal-test-{uuid.uuid4().hex[:8]}:"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "DATABASE_URL", "REDIS_"))},
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "PORTAL_REDIS_PREFIX": prefix,
        "PORTAL_SESSION_SECRET": secrets.token_urlsafe(40),
        "PORTAL_LAWPACK": "false",
        "PORTAL_CORPUS_DIR": str(base / "no-corpus"),
        "PORTAL_VAR_DIR": str(base / "a"),
    }
    nodes: list[Node] = []
    try:
        _portal(env, "init")
        _portal(env, "users", "add", "editor", "--role", "editor", "--password-stdin", stdin="correct horse battery\n")
        _portal(env, "users", "add", "linkage", "--role", "dispatcher", "--password-stdin",
                stdin="correct horse battery\n")
        editor_key = _api_key(_portal(env, "apikeys", "create", "--user", "editor", "--name", "edits"))
        # Four eyes: a second editor publishes what the first one wrote.
        _portal(env, "users", "add", "reviewer", "--role", "editor", "--password-stdin", stdin="correct horse battery\n")
        reviewer_key = _api_key(_portal(env, "apikeys", "create", "--user", "reviewer", "--name", "reviews"))
        dispatcher_key = _api_key(_portal(env, "apikeys", "create", "--user", "linkage", "--name", "cases"))
        hammer_limit = 40
        hammer_key = _api_key(_portal(env, "apikeys", "create", "--user", "linkage", "--name", "hammer",
                                      "--rate-limit", str(hammer_limit)))
        usage_output = _portal(env, "apikeys", "create", "--user", "linkage", "--name", "usage")
        usage_key_id = re.match(r"\d+", usage_output.split("#", 1)[1]).group()
        # Node A serves the index `portal init` built; node B builds its own replica at start.
        nodes.append(_start(env, base / "a"))
        nodes.append(_start(env, base / "b"))
        deadline = time.monotonic() + 300
        for node in nodes:
            _wait_ready(node, deadline)
        yield Cluster(nodes[0], nodes[1], env, database_url, editor_key, reviewer_key, dispatcher_key, hammer_key, hammer_limit,
                      _api_key(usage_output), usage_key_id)
    finally:
        for node in nodes:
            node.process.send_signal(signal.SIGTERM)
        for node in nodes:
            try:
                node.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                node.process.kill()
        redis.Redis.from_url(REDIS_URL).delete(*(redis.Redis.from_url(REDIS_URL).keys(prefix + "*") or [prefix]))
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _wait_for(predicate: Any, seconds: float, step: float = 0.05) -> float | None:
    """Seconds until ``predicate()`` held, or None if it never did within ``seconds``."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if predicate():
            return time.monotonic() - start
        time.sleep(step)
    return None


def test_both_nodes_ready_and_following_redis(cluster: Cluster) -> None:
    for node in (cluster.a, cluster.b):
        health = call(node.url + "/healthz").body
        assert health["status"] == "ok"
        assert health["checks"]["search_index"]["ok"] and health["checks"]["database"]["ok"]
        assert health["checks"]["redis"]["ok"] and health["checks"]["redis"]["listening"]
        # Each node reads its own replica (the public health check does not say where it lies).
        assert any((node.var_dir / "index").glob("gen-*"))


def test_a_duty_published_on_a_is_answered_on_b_within_a_second(cluster: Cluster) -> None:
    lookup = f"{cluster.b.url}/api/v1/responsibility?item_type=0101&area={GRID}"

    def owner() -> int:
        return {r["role"]: r["duty_id"] for r in call(lookup).body["roles"]}.get("owner")

    before = owner()  # B has the catalogue in memory now
    created = call(cluster.a.url + "/api/v1/duties", "POST", {
        "item_type": "0101", "area": GRID, "role": "owner", "agency": "DX", "note": "多节点测试",
    }, key=cluster.editor_key)
    assert created.status == 201, created.body
    duty = f"{cluster.a.url}/api/v1/duties/{created.body['id']}/transitions"
    assert call(duty, "POST", {"transition": "submit"}, key=cluster.editor_key).status == 200
    published = call(duty, "POST", {"transition": "publish", "force": True, "comment": "测试"}, key=cluster.reviewer_key)
    assert published.status == 200, published.body
    assert before != created.body["id"]
    took = _wait_for(lambda: owner() == created.body["id"], 1.0)
    assert took is not None, "node B still answers with the old owner after 1 s"


def test_a_regulation_imported_on_a_is_found_on_b_within_five_seconds(cluster: Cluster) -> None:
    search = f"{cluster.b.url}/api/v1/search?q=" + urllib.request.quote("犬只文明饲养")
    assert not any("犬只文明饲养" in hit["title"] for hit in call(search).body["hits"])
    imported = call(cluster.a.url + "/api/v1/regulations", "POST", {"text": DOG_RULE}, key=cluster.editor_key)
    assert imported.status == 201, imported.body

    def found() -> bool:
        return any("犬只文明饲养" in hit["title"] for hit in call(search).body["hits"])

    assert _wait_for(found, 5.0, step=0.2) is not None, "node B's search does not find the new regulation"


def test_a_case_ingested_through_both_nodes_at_once_exists_once(cluster: Cluster) -> None:
    body = {
        "external_id": f"LD-{uuid.uuid4().hex[:10]}", "channel": "hotline_12345", "item_type": "0103",
        "description": "雨水井盖缺失", "reported_at": "2026-11-20T09:00:00+08:00",
        "lat": 30.2336, "lon": 120.0860,
    }
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda node: call(node.url + "/api/v1/cases", "POST", body, key=cluster.dispatcher_key),
                                (cluster.a, cluster.b)))
    assert sorted(a.status for a in answers) == [200, 201], [a.body for a in answers]
    assert answers[0].body["id"] == answers[1].body["id"]
    engine = create_engine(cluster.database_url)
    try:
        with engine.connect() as connection:
            count = connection.execute(text("SELECT count(*) FROM cases WHERE external_id = :e"),
                                       {"e": body["external_id"]}).scalar()
    finally:
        engine.dispose()
    assert count == 1


def test_a_client_hammering_both_nodes_gets_its_limit_in_total(cluster: Cluster) -> None:
    limit = cluster.hammer_limit
    urls = [node.url + "/open311/v2/services.json" for node in (cluster.a, cluster.b)] * (limit * 2)
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda url: call(url, key=cluster.hammer_key), urls))
    elapsed = time.monotonic() - start
    allowed = [a for a in answers if a.status == 200]
    refused = [a for a in answers if a.status == 429]
    assert len(allowed) + len(refused) == len(answers)
    # GCRA refills limit/60 requests a second: what the test's own duration adds.
    assert limit <= len(allowed) <= limit + 1 + int(elapsed * limit / 60), (len(allowed), elapsed)
    # both nodes served and both refused: the limit is shared, not one node's
    assert {a.headers.get("RateLimit-Limit") for a in answers} == {str(limit)}
    assert all(int(a.headers["Retry-After"]) >= 1 for a in refused)
    assert all(a.body["error"]["code"] == "rate_limited" if isinstance(a.body, dict) else True for a in refused)


def test_api_key_use_on_one_node_is_known_to_the_other_within_a_second(cluster: Cluster) -> None:
    """An admin on node B sees a key used a moment ago on node A: A's worker pushes it to Redis
    within a second, and `portal apikeys list` (like /admin/users/{id}) merges Redis with the
    database, which is written only once a minute."""
    import redis

    assert call(cluster.a.url + "/api/v1/item-types?page_size=1", key=cluster.usage_key).status == 200
    shared = redis.Redis.from_url(cluster.env["REDIS_URL"])
    hash_key = cluster.env["PORTAL_REDIS_PREFIX"] + "apikey:last_used"
    key_id = cluster.usage_key_id
    assert _wait_for(lambda: shared.hget(hash_key, key_id) is not None, 1.0) is not None
    output = _portal({**cluster.env, "PORTAL_VAR_DIR": str(cluster.b.var_dir)}, "apikeys", "list")
    line = next(line for line in output.splitlines() if line.startswith(f"{key_id}\t"))
    assert "last used" in line, output
