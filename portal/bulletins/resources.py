"""Who may generate and publish bulletins: a route factory with its own ACL."""

from __future__ import annotations

from enum import StrEnum

from pyramid.authorization import Allow
from pyramid.request import Request

from portal.accounts.models import Role
from portal.accounts.permissions import ROOT_ACL, principal_for_role


class BulletinPermissions(StrEnum):
    MANAGE = "bulletins:bulletin:manage"


class BulletinAdmin:
    """Generating, previewing and publishing bulletins: the centre's clerks and editors (and admins)."""

    __acl__ = (
        (Allow, principal_for_role(Role.CLERK), BulletinPermissions.MANAGE),
        (Allow, principal_for_role(Role.EDITOR), BulletinPermissions.MANAGE),
        *ROOT_ACL,
    )

    def __init__(self, request: Request) -> None:
        self.request = request
