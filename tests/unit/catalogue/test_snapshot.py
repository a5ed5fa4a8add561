"""The freshness gate of the look-up's snapshot cache."""

from sqlalchemy.orm import Session

from portal.catalogue import snapshot
from portal.catalogue.snapshot import FreshnessGate


class FakeEngine:
    def __init__(self):
        self.calls = 0


def test_gate_reads_at_most_once_per_window(monkeypatch):
    engine = FakeEngine()

    def read(e):
        e.calls += 1
        return ("t", e.calls)

    monkeypatch.setattr(snapshot, "committed_freshness", read)
    gate = FreshnessGate(engine, window=60)
    assert gate() == gate() == ("t", 1)
    assert engine.calls == 1
    # a commit in this process opens the gate at once
    snapshot.local_commits[0] += 1
    assert gate() == ("t", 2)
    expired = FreshnessGate(engine, window=0)
    expired()
    expired()
    assert engine.calls == 4


def test_commits_that_flushed_move_the_local_counter(engine):
    before = snapshot.local_commits[0]
    with Session(engine) as session:
        session.commit()  # nothing flushed
        assert snapshot.local_commits[0] == before
        from portal.catalogue.models import CatalogueState

        state = session.get(CatalogueState, 1)
        if state is None:
            session.add(CatalogueState(id=1, token="x"))
        else:
            state.token = state.token
            session.add(CatalogueState(id=999, token="y"))
        session.flush()
        session.rollback()
        assert snapshot.local_commits[0] == before


def test_a_released_savepoint_is_no_commit(engine):
    """SQLAlchemy reports a savepoint's release as a commit; the catalogue is not changed for
    anyone else until the outer transaction commits (and never, if it rolls back)."""
    from portal.catalogue.models import CatalogueState

    before = snapshot.local_commits[0]
    with Session(engine) as session:
        with session.begin_nested():
            session.add(CatalogueState(id=998, token="savepoint"))
        assert snapshot.local_commits[0] == before
        session.rollback()
    assert snapshot.local_commits[0] == before
