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
