"""API-key last use through Redis: seen on one process, known to all, written to the database once."""

from __future__ import annotations

import contextlib
import uuid

from portal.accounts.usage import ApiKeyUsage
from portal.sharing import SharedState


class RecordingSessions:
    """Stands in for the database: counts the transactions and the keys they update."""

    def __init__(self) -> None:
        self.commits: list[int] = []

    def __call__(self):
        recorder = self

        class FakeSession:
            updates = 0

            def execute(self, statement):
                self.updates += 1

            def commit(self):
                recorder.commits.append(self.updates)

        return contextlib.nullcontext(FakeSession())


def test_a_use_noted_by_one_process_is_known_to_another_and_stored_once(redis_url):
    prefix = f"portal-test-{uuid.uuid4().hex[:8]}:"
    sessions = RecordingSessions()
    node_a = ApiKeyUsage(sessions, interval=30.0, background=False, shared=SharedState(redis_url, prefix=prefix))
    node_b = ApiKeyUsage(sessions, interval=30.0, background=False, shared=SharedState(redis_url, prefix=prefix))
    node_a._last_db_write = node_b._last_db_write = float("-inf")  # both due to copy to the database
    try:
        assert node_b.last_used([41]) == {}
        node_a.seen(41)
        assert node_a.due_in() <= node_a.share_interval  # shared within a second, not once a minute
        node_a.write()
        when = node_b.last_used([41, 42])
        assert list(when) == [41] and when[41].tzinfo is not None
        # an older time never replaces a newer one
        node_b._seen[41] = when[41].replace(year=2000)
        node_b.write()
        assert node_a.last_used([41]) == when
        # the copy to the database happened once for both processes (the lock), with the key
        assert sessions.commits == [1]
    finally:
        node_a.shared.client.delete(*node_a.shared.client.keys(prefix + "*"))


def test_without_redis_uses_go_straight_to_the_database():
    sessions = RecordingSessions()
    usage = ApiKeyUsage(sessions, interval=0.0, background=False, shared=SharedState("redis://127.0.0.1:1/0"))
    usage.seen(7)
    assert usage.write() == 1
    assert sessions.commits == [1]
    assert usage.last_used([7]) == {}
