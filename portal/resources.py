"""Route factories carrying ACLs: permissions are checked on resources, never on ORM models."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request

from portal.accounts.permissions import ROOT_ACL


class Root:
    """The default context of every route: the site-wide ACL."""

    __acl__ = ROOT_ACL

    def __init__(self, request: Request) -> None:
        self.request = request


def root_factory(request: Request) -> Any:
    return Root(request)
