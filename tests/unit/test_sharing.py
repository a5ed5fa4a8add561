"""Change notices between processes through Redis pub/sub (portal.sharing)."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from portal.sharing import ChangeBus, SharedState


def _wait(predicate, seconds: float = 2.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@dataclass
class Buses:
    """Two processes' buses on one channel (both live in this process, so both announce every
    commit; each hears only the other's): what the receiver heard, and an event set on each."""

    sender: ChangeBus
    receiver: ChangeBus
    heard: list[dict]
    got: threading.Event


@pytest.fixture
def buses(redis_url):
    prefix = f"portal-test-{uuid.uuid4().hex[:8]}:"
    pair = Buses(ChangeBus(SharedState(redis_url, prefix=prefix)), ChangeBus(SharedState(redis_url, prefix=prefix)),
                 [], threading.Event())
    pair.receiver.on_change(lambda notice: (pair.heard.append(notice), pair.got.set()))
    try:
        pair.sender.start()
        pair.receiver.start()
        assert _wait(lambda: pair.sender.listening and pair.receiver.listening)
        yield pair
    finally:
        pair.sender.stop()
        pair.receiver.stop()


def test_a_commit_in_one_process_reaches_the_others_within_a_second(buses, tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    with Session(engine) as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
        session.commit()  # no flush of ORM objects: nothing to announce
    with Session(engine) as session:
        session.info["_bus_wrote"] = True  # what the flush listener notes for an ORM write
        session.info["_search_dirty"] = True
        started = time.monotonic()
        session.commit()
    assert buses.got.wait(1.0), "no notice within a second"
    assert time.monotonic() - started < 1.0
    assert {"from": buses.sender.sender, "search": True} in buses.heard
    assert all(notice["from"] != buses.receiver.sender for notice in buses.heard)


def test_a_rolled_back_transaction_announces_nothing(buses, tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'y.sqlite'}")
    with Session(engine) as session:
        session.execute(text("SELECT 1"))
        session.info["_bus_wrote"] = True  # a write that is then rolled back
        session.rollback()
        session.execute(text("SELECT 1"))
        session.commit()
    time.sleep(0.5)
    assert buses.heard == []


def test_a_savepoint_is_announced_when_the_outer_transaction_commits(buses, tmp_path):
    """A released savepoint is not a commit: the others would read the database before the
    change is in it, and the real commit would then go unannounced."""
    from portal.db import get_engine

    engine = get_engine({"sqlalchemy.url": f"sqlite:///{tmp_path / 's.sqlite'}"})
    with Session(engine) as session:
        session.execute(text("SELECT 1"))
        with session.begin_nested():
            session.info["_bus_wrote"] = True  # what the flush listener notes for an ORM write
            session.info["_search_dirty"] = True
        time.sleep(0.5)
        assert buses.heard == []
        session.commit()
    assert buses.got.wait(1.0), "the commit was not announced"
    assert {"from": buses.sender.sender, "search": True} in buses.heard


def test_without_redis_the_bus_degrades_and_commits_still_succeed(tmp_path):
    bus = ChangeBus(SharedState("redis://127.0.0.1:1/0"), reconnect_seconds=0.2)
    try:
        bus.start()
        engine = create_engine(f"sqlite:///{tmp_path / 'z.sqlite'}")
        with Session(engine) as session:
            session.info["_bus_wrote"] = True
            session.commit()
        assert not bus.listening
        assert _wait(lambda: bus.shared.health()["ok"] is False)
    finally:
        bus.stop()
