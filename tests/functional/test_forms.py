"""The shared form helpers render what the browser reads (defect 11 of issue 10)."""

from __future__ import annotations


def _input(page, name):
    return page.html.find("input", attrs={"name": name})


def test_extra_attributes_reach_the_browser_unescaped(testapp, login_as):
    track = testapp.get("/track")
    code = _input(track, "tracking_code")
    assert code["autocomplete"] == "off" and code["maxlength"] == "32"
    assert "&#34;" not in track.text

    login = testapp.get("/login")
    assert _input(login, "username")["autocomplete"] == "username"
    assert _input(login, "password")["autocomplete"] == "current-password"

    login_as("admin", username="form-admin")
    users = testapp.get("/admin/users")
    assert _input(users, "password")["autocomplete"] == "new-password"
    assert "&#34;" not in users.text
