from __future__ import annotations

import pytest

from portal.accounts.services import DatabaseApiKeyService, DatabaseUserService
from portal.errors import Conflict, InvalidInput


def test_passwords_are_stored_as_argon2_and_checked(dbsession):
    users = DatabaseUserService(dbsession)
    user = users.create("li.editor", "correct horse battery", ["editor"])
    assert user.password_hash.startswith("$argon2")
    assert "correct horse" not in user.password_hash
    assert users.authenticate("li.editor", "correct horse battery") is user
    assert users.authenticate("li.editor", "wrong password") is None
    assert users.authenticate("nobody", "correct horse battery") is None


def test_inactive_users_cannot_log_in(dbsession):
    users = DatabaseUserService(dbsession)
    user = users.create("gone", "correct horse battery", [])
    user.is_active = False
    assert users.authenticate("gone", "correct horse battery") is None


def test_usernames_are_unique_and_roles_known(dbsession):
    users = DatabaseUserService(dbsession)
    users.create("wang", "correct horse battery", ["dispatcher"])
    with pytest.raises(Conflict):
        users.create("wang", "correct horse battery", [])
    with pytest.raises(InvalidInput):
        users.create("zhao", "correct horse battery", ["superuser"])


def test_api_keys_are_hashed_shown_once_and_revocable(dbsession):
    user = DatabaseUserService(dbsession).create("system", None, ["dispatcher"])
    keys = DatabaseApiKeyService(dbsession)
    key, secret = keys.create(user, "linkage centre")
    assert secret not in (key.key_hash, key.prefix)
    assert keys.verify(secret) is key
    assert keys.verify(secret + "x") is None
    assert keys.verify("cdp_" + key.prefix + "_guess") is None
    assert keys.verify("garbage") is None
    keys.revoke(key.id)
    assert keys.verify(secret) is None


def test_api_key_use_is_recorded_at_most_once_per_interval(dbsession):
    import contextlib
    import datetime as dt

    from sqlalchemy.exc import OperationalError

    from portal.accounts.usage import ApiKeyUsage

    user = DatabaseUserService(dbsession).create("client", None, ["dispatcher"])
    key, _secret = DatabaseApiKeyService(dbsession).create(user, "open data")
    dbsession.flush()
    clock = [0.0]
    now = [dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)]
    usage = ApiKeyUsage(lambda: contextlib.nullcontext(dbsession), interval=60,
                        clock=lambda: clock[0], now=lambda: now[0], background=False)

    def recorded():
        dbsession.expire(key)
        at = key.last_used_at  # SQLite gives it back naive (stored as UTC)
        return None if at is None else (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)

    usage.seen(key.id)
    assert usage.write_if_due() == 0 and recorded() is None  # noted in memory only: not due yet
    clock[0], now[0] = 61.0, now[0] + dt.timedelta(seconds=61)
    usage.seen(key.id)
    assert recorded() is None  # a call never writes, even when the interval has passed
    assert usage.write_if_due() == 1
    assert recorded() == dt.datetime(2026, 11, 27, 8, 1, 1, tzinfo=dt.UTC)
    # a time noted by a slower process never moves it backwards
    now[0] = dt.datetime(2026, 11, 27, 7, 0, tzinfo=dt.UTC)
    usage.seen(key.id)
    assert usage.write() == 1
    assert recorded().hour == 8

    def locked():
        raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))

    failing = ApiKeyUsage(locked, interval=0, clock=lambda: clock[0], now=lambda: now[0], background=False)
    failing.seen(key.id)  # the write fails: the call still succeeds, the time waits for the next write
    assert failing.write() == 0 and key.id in failing._seen
