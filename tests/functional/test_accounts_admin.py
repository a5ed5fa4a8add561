"""Admins manage staff accounts and API keys in the browser."""

from __future__ import annotations

import re

from sqlalchemy import select

from portal.accounts.models import User
from portal.audit import AuditEntry


def _form(page, action_suffix):
    return next(f for f in page.forms.values() if f.action.endswith(action_suffix))


def _user(dbsession, username):
    return dbsession.scalar(select(User).where(User.username == username))


def test_only_admins_reach_user_management(testapp, login_as):
    assert "/login" in testapp.get("/admin/users", status=302).location
    login_as("editor", username="ed")
    testapp.get("/admin/users", status=403)
    testapp.post("/admin/users/1/status", {"active": "false"}, status=403)


def test_admin_creates_a_user_who_can_then_sign_in(testapp, login_as, dbsession):
    login_as("admin", username="root")
    page = testapp.get("/admin/users")
    assert "root" in page.text
    form = _form(page, "/admin/users")
    form["username"] = "wang.dispatch"
    form["display_name"] = "王派遣"
    form["password"] = "long enough secret"
    form.get("roles", index=0).checked = True  # dispatcher
    user_page = form.submit(status=303).follow()
    assert "王派遣" in user_page.text and "已创建用户 wang.dispatch" in user_page.text
    created = _user(dbsession, "wang.dispatch")
    assert created.roles == ["dispatcher"] and created.password_hash.startswith("$argon2")
    # the same name again, a bad role, a short password: clear messages, nothing created
    again = _form(testapp.get("/admin/users"), "/admin/users")
    again["username"] = "wang.dispatch"
    assert "已存在" in again.submit(status=409).text
    bad = testapp.post("/admin/users", {"csrf_token": again["csrf_token"].value, "username": "x y",
                                        "password": "short", "roles": "superuser"}, status=400)
    assert "只能用字母" in bad.text and "8 至 256" in bad.text and "未知角色" in bad.text
    assert "short" not in re.sub(r"<[^>]+>", "", bad.text).split("新建用户")[1]  # the password is not echoed
    assert _user(dbsession, "x y") is None
    # the new account signs in
    _form(testapp.get("/admin/users"), "/logout").submit()
    login = testapp.get("/login").forms[0]
    login["username"], login["password"] = "wang.dispatch", "long enough secret"
    login.submit(status=303)


def test_roles_status_and_password_changes_are_audited_and_cannot_lock_the_admin_out(testapp, login_as, make_user,
                                                                                  dbsession):
    admin = login_as("admin", username="root")
    staff = make_user("li", "editor")
    page = testapp.get(f"/admin/users/{staff.id}")
    roles = _form(page, "/roles")
    for box in roles.fields["roles"]:
        box.checked = box._value in ("editor", "expert")
    roles.submit(status=303)
    dbsession.flush()  # the requests share this session; no commit in tests
    assert sorted(_user(dbsession, "li").roles) == ["editor", "expert"]
    status = _form(testapp.get(f"/admin/users/{staff.id}"), "/status")
    status.submit(status=303)
    dbsession.flush()  # the requests share this session; no commit in tests
    assert _user(dbsession, "li").is_active is False
    password = _form(testapp.get(f"/admin/users/{staff.id}"), "/password")
    password["password"] = "a brand new secret"
    password.submit(status=303)
    actions = set(dbsession.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "users",
                                                                    AuditEntry.entity_id == str(staff.id))))
    assert {"users.update", "users.password_reset"} <= actions
    assert not any("argon2" in str(e.after) for e in dbsession.scalars(select(AuditEntry)))
    # an admin cannot deactivate themselves or drop their own admin role
    own = testapp.get(f"/admin/users/{admin.id}")
    assert "停用账号" not in own.text
    token = own.forms[next(iter(own.forms))]["csrf_token"].value
    refused = testapp.post(f"/admin/users/{admin.id}/status", {"csrf_token": token, "active": "false"}, status=409)
    assert "不能停用自己的账号" in refused.text
    refused = testapp.post(f"/admin/users/{admin.id}/roles", {"csrf_token": token, "roles": "editor"}, status=409)
    assert "不能取消自己的管理员角色" in refused.text
    dbsession.flush()  # the requests share this session; no commit in tests
    assert _user(dbsession, "root").is_active and "admin" in _user(dbsession, "root").roles
    testapp.get("/admin/users/999999", status=404)


def test_api_keys_are_shown_once_work_and_stop_when_revoked_or_the_account_is_disabled(testapp, login_as, make_user,
                                                                                     dbsession):
    login_as("admin", username="root")
    client = make_user("linkage", "dispatcher")
    form = _form(testapp.get(f"/admin/users/{client.id}"), "/keys")
    form["name"] = "联动中心对接"
    form["rate_limit_per_minute"] = "600"
    shown = form.submit(status=201)
    assert shown.headers["Cache-Control"] == "no-store"
    secret = re.search(r"cdp_[0-9a-f]{12}_[A-Za-z0-9_-]+", shown.text).group(0)
    assert secret not in testapp.get(f"/admin/users/{client.id}").text  # never shown again
    bearer = {"Authorization": f"Bearer {secret}"}
    testapp.get("/api/v1/regulations", headers=bearer, status=200)
    # disabling the account stops its keys at once; enabling it brings them back
    _form(testapp.get(f"/admin/users/{client.id}"), "/status").submit(status=303)
    testapp.get("/api/v1/regulations", headers=bearer, status=401)
    _form(testapp.get(f"/admin/users/{client.id}"), "/status").submit(status=303)
    testapp.get("/api/v1/regulations", headers=bearer, status=200)
    page = testapp.get(f"/admin/users/{client.id}")
    key_id = int(re.search(r"/keys/(\d+)/revoke", page.text).group(1))
    other = make_user("other", "dispatcher")
    token = page.forms[next(iter(page.forms))]["csrf_token"].value
    testapp.post(f"/admin/users/{other.id}/keys/{key_id}/revoke", {"csrf_token": token}, status=404)
    _form(page, f"/keys/{key_id}/revoke").submit(status=303)
    testapp.get("/api/v1/regulations", headers=bearer, status=401)
    bad = _form(testapp.get(f"/admin/users/{client.id}"), "/keys")
    bad["rate_limit_per_minute"] = "0"
    assert "请写明密钥的用途" in bad.submit(status=400).text
