"""``kill -9`` of the operator's long commands, then a restart: nothing half-done survives.

Real ``portal`` subprocesses on a temporary SQLite database (the import also on PostgreSQL),
killed with SIGKILL at a point the test has seen them reach (the first committed batch of an import; the rebuild's worker processes):

- ``portal import-cases``: no duplicate and no partial case after the rerun (each case has all its
  steps, its reporter and its feedback, or is absent), every distinct external id stored once,
  ``PRAGMA integrity_check`` ok, no process of the killed command left running;
- ``portal reindex``: no worker left running (they once segmented on at full CPU), the partial
  index generation removed by ``portal index --repair``, and the index then agrees with the
  database (as many documents as the database yields; the imported regulation is found).
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from portal.settings import normalise_database_url
from tests.conftest import ROOT, empty_database, load_demo_catalogue

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")

PORTAL = Path(sys.executable).with_name("portal")
CASES = 1500
REPEATED = 40  # lines that repeat an earlier case: the file has CASES distinct external ids
BATCH = 100
# A rebuild segments the first 2,000 documents itself (the regulation and its first articles come
# first), then hands batches of 200 to worker processes: the articles after LONG_FROM are long, so
# a worker killed with its parent is caught with seconds of segmenting still queued for it.
ARTICLES = 2300
LONG_FROM = 1999
LONG_SENTENCES = 380  # about 8,000 characters an article
REGULATION_TITLE = "城市管理断电测试条例"
#: How long the killed command's children may take to die: a rebuild worker at once (the kernel's
#: PR_SET_PDEATHSIG; without it the worker finishes its queued batches first, seconds of CPU), the
#: pool's resource tracker when its pipe closes, an import's workers when their queue does.
WORKER_GRACE_SECONDS = 1.0
CHILDREN_GRACE_SECONDS = 15.0
#: CPU time a rebuild worker has used when it is surely past its start-up (interpreter, imports,
#: the segmenter's dictionary) and segmenting documents: the moment a kill once orphaned it.
WORKER_BUSY_CPU_SECONDS = 2.0
#: How long a command may take to reach the point where it is killed (slow, shared CI machines).
START_TIMEOUT_SECONDS = 120.0


@dataclasses.dataclass(frozen=True)
class Site:
    ini: Path
    var_dir: Path
    url: str

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def portal(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(PORTAL), "--config", str(self.ini), *args], capture_output=True, text=True,
                              env=_environment(), timeout=timeout, check=False)

    def start(self, *args: str, log: Path) -> subprocess.Popen[bytes]:
        with open(log, "wb") as out:
            return subprocess.Popen([str(PORTAL), "--config", str(self.ini), *args], stdout=out,
                                    stderr=subprocess.STDOUT, env=_environment())

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        engine = create_engine(normalise_database_url(self.url), poolclass=NullPool)
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(text(sql))]
        finally:
            engine.dispose()


def _environment() -> dict[str, str]:
    # The ini names this site's database and var dir; an operator's variables must not override them.
    overrides = {"DATABASE_URL", "PORTAL_VAR_DIR", "PORTAL_CONFIG", "REDIS_URL"}
    return {name: value for name, value in os.environ.items() if name not in overrides}


def _make_site(root: Path, url: str) -> Site:
    """A migrated site on ``url`` with the demo catalogue."""
    from portal.migrate import upgrade

    var_dir = root / "var"
    ini = root / "crash.ini"
    ini.write_text(
        "[app:main]\nuse = egg:city-duty-portal\n"
        f"sqlalchemy.url = {url}\nportal.var_dir = {var_dir}\n"
        f"portal.knowledge_base = {ROOT / 'knowledge_base'}\n"
        "portal.corpus_dir =\nportal.lawpack = false\nportal.search.warm_up = false\n"
        "portal.search.heal_on_start = false\nportal.search.rebuild_workers = 2\n"
        "session.secret = crash-test-secret-crash-test-secret\ncases.demo_count = 0\n",
        encoding="utf-8")
    upgrade({"sqlalchemy.url": normalise_database_url(url)})
    engine = create_engine(normalise_database_url(url))
    with engine.begin() as connection:
        load_demo_catalogue(connection)
    engine.dispose()
    return Site(ini, var_dir, url)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """A SQLite site with the demo catalogue and a regulation of ARTICLES articles."""
    root = tmp_path_factory.mktemp("crash")
    site = _make_site(root, f"sqlite:///{root / 'portal.sqlite'}")
    regulation = root / "regulation.md"
    regulation.write_text(_regulation_text(), encoding="utf-8")
    imported = site.portal("import-regulations", str(regulation), "--title", REGULATION_TITLE,
                           "--level", "地方性法规", "--region", "全国", "--no-index")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    return site


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def import_site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The SQLite site, or a PostgreSQL one (imports there take the one-process path)."""
    if request.param == "sqlite":
        yield request.getfixturevalue("site")
        return
    folder = tmp_path_factory.mktemp("crash-pg")
    with empty_database("postgresql", folder) as url:
        yield _make_site(folder, url)


def _regulation_text() -> str:
    from portal.numerals import article_label

    words = "城市 道路 井盖 绿化 养护 执法 噪声 施工 垃圾 占道 经营 广告 照明 排水 管线 巡查 处置".split()
    lines = [f"# {REGULATION_TITLE}", "", "第一章 总则", ""]
    for number in range(1, ARTICLES + 1):
        sentences = LONG_SENTENCES if number > LONG_FROM else 1
        body = "，".join("".join(words[(number * 7 + s * 5 + k * 3) % len(words)] for k in range(10))
                        for s in range(sentences))
        lines += [f"{article_label(number)} 本市{body}，由有关部门负责。", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- processes


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children of all its threads, recursively)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            children = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found.append(child)
            found.extend(descendants(child))
    return found


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _running(pid: int, started: str) -> bool:
    """Alive and not a zombie (a dead child its new parent has yet to reap), and the same process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] not in ("Z", "X") and fields[19] == started


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start_time(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except OSError:
        return ""


@dataclasses.dataclass(frozen=True)
class Child:
    pid: int
    started: str  # start time in clock ticks: tells the process from a later one with its pid
    command: str


def kill_when(process: subprocess.Popen[bytes], reached: Callable[[], bool], what: str) -> list[Child]:
    """SIGKILL ``process`` as soon as ``reached()``; returns its descendants at that moment."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not reached():
        assert process.poll() is None, f"the command ended (exit {process.returncode}) before {what}"
        assert time.monotonic() < deadline, f"no {what} within {START_TIMEOUT_SECONDS:.0f} s"
        time.sleep(0.02)
    children = [Child(pid, _start_time(pid), _command_line(pid)) for pid in descendants(process.pid)]
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    return children


def assert_no_survivors(children: list[Child], grace: float = CHILDREN_GRACE_SECONDS) -> None:
    deadline = time.monotonic() + grace
    while (alive := [c for c in children if _running(c.pid, c.started)]) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive, f"processes of the killed command still run after {grace:.0f} s: " + "; ".join(
        f"{child.pid} {child.command[:120]}" for child in alive)


# ----------------------------------------------------------------------------- import-cases


@pytest.fixture(scope="module")
def cases_file(import_site: Site, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    """CASES demo cases as JSON Lines, REPEATED of them twice; and the records by external id."""
    from portal.cases import demo
    from portal.cases.loader import demo_world
    from portal.cases.places import Places

    engine = create_engine(normalise_database_url(import_site.url))
    with Session(engine) as session:
        world = demo_world(Places.of(session), session, {}, 11)
    engine.dispose()
    records = [{**record, "external_id": f"CRASH-{record['external_id']}"}
               for record in demo.generate(world, CASES, 11)]
    lines = [json.dumps(record, ensure_ascii=False, default=str) for record in records]
    lines += lines[:: len(lines) // REPEATED][:REPEATED]
    path = tmp_path_factory.mktemp("cases") / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, {record["external_id"]: record for record in records}


def _stored_cases(site: Site) -> int:
    return int(site.query("SELECT count(*) FROM cases WHERE external_id LIKE 'CRASH-%'")[0][0])


def _integrity(site: Site) -> str:
    """SQLite's own check of its file (PostgreSQL has no such check to run: its WAL replays)."""
    return str(site.query("PRAGMA integrity_check")[0][0]) if site.is_sqlite else "ok"


def test_import_cases_killed_mid_way_then_rerun_stores_every_case_once_and_whole(
        import_site: Site, cases_file: tuple[Path, dict[str, dict[str, Any]]], tmp_path: Path) -> None:
    site = import_site
    path, records = cases_file
    assert _stored_cases(site) == 0
    process = site.start("import-cases", str(path), "--batch-size", str(BATCH), "--workers", "2",
                         log=tmp_path / "import.log")
    children = kill_when(process, lambda: _stored_cases(site) > 0, "a committed batch")
    assert_no_survivors(children)
    stored_at_kill = _stored_cases(site)
    assert 0 < stored_at_kill < len(records), "the kill must interrupt the import, not follow it"
    assert _integrity(site) == "ok"

    rerun = site.portal("import-cases", str(path), "--batch-size", str(BATCH), "--workers", "2")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert _integrity(site) == "ok"
    assert _stored_cases(site) == len(records)
    assert site.query("SELECT external_id FROM cases GROUP BY external_id HAVING count(*) > 1") == []
    stored = {external_id: (event_count, events, reporter, feedback) for external_id, event_count, events, reporter,
              feedback in site.query(
        "SELECT c.external_id, c.event_count,"
        " (SELECT count(*) FROM case_events e WHERE e.case_id = c.id),"
        " (SELECT count(*) FROM case_reporters r WHERE r.case_id = c.id),"
        " (SELECT count(*) FROM case_feedback f WHERE f.case_id = c.id)"
        " FROM cases c WHERE c.external_id LIKE 'CRASH-%'")}
    assert set(stored) == set(records)
    partial = []
    for external_id, record in records.items():
        steps = len(record.get("events") or []) + 1  # the report itself is the first step
        has_reporter = any(record.get(f"reporter_{field}") for field in ("name", "phone", "email", "id_number"))
        expected = (steps, steps, int(has_reporter), int(bool(record.get("feedback"))))
        if stored[external_id] != expected:
            partial.append(f"{external_id}: stored {stored[external_id]}, file {expected}")
    assert not partial, f"{len(partial)} cases differ from the file: " + "; ".join(partial[:5])


# ----------------------------------------------------------------------------- reindex


def _generations(site: Site) -> Iterator[Path]:
    return (path for path in (site.var_dir / "index").glob("gen-*") if path.is_dir())


def test_reindex_killed_mid_build_leaves_no_worker_and_repair_restores_a_consistent_index(
        site: Site, tmp_path: Path) -> None:
    from portal.search.storage import META_FILE

    process = site.start("reindex", log=tmp_path / "reindex.log")

    def workers_segmenting() -> bool:
        workers = [pid for pid in descendants(process.pid) if "spawn_main" in _command_line(pid)]
        return bool(workers) and all(_cpu_seconds(pid) >= WORKER_BUSY_CPU_SECONDS for pid in workers)

    children = kill_when(process, workers_segmenting, "rebuild workers segmenting")
    workers = [child for child in children if "spawn_main" in child.command]
    assert workers
    assert_no_survivors(workers, grace=WORKER_GRACE_SECONDS)
    assert_no_survivors(children)
    partial = [path.name for path in _generations(site) if not (path / META_FILE).exists()]
    assert partial, "the killed rebuild left no generation behind: it was not killed mid-build"

    repaired = site.portal("index", "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert all(name in repaired.stdout for name in partial), repaired.stdout
    assert not [path for path in _generations(site) if not (path / META_FILE).exists()]

    from pyramid.paster import get_appsettings

    from portal import main
    from portal.search.interfaces import ISearchService, SearchQuery

    app = main({}, **get_appsettings(str(site.ini)))
    projection = app.registry["portal.search.projection"]
    with app.registry["dbsession_factory"]() as session:
        expected = projection.count_documents(session)
    assert expected > ARTICLES
    health = projection.health()
    assert health["ok"] and health["documents"] == expected
    results = app.registry.getUtility(ISearchService).search(SearchQuery(text="城市管理断电测试条例 第二千二百条"))
    assert any(hit.regulation_title == REGULATION_TITLE for hit in results.hits)
