"""Permissions of the dispatch assistant and the route factory carrying them."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pyramid.authorization import Allow

from portal.accounts.models import Role
from portal.accounts.permissions import ROOT_ACL, principal_for_role


class DispatchPermissions(StrEnum):
    #: confirm or correct a suggestion (it becomes evidence)
    TEACH = "dispatch:example:create"
    #: read the stored examples and discard bad ones
    REVIEW = "dispatch:example:review"


class DispatchRoot:
    __acl__ = (
        (Allow, principal_for_role(Role.DISPATCHER), DispatchPermissions.TEACH),
        (Allow, principal_for_role(Role.CLERK), DispatchPermissions.TEACH),
        (Allow, principal_for_role(Role.EDITOR), DispatchPermissions.REVIEW),
        *ROOT_ACL,
    )

    def __init__(self, request: Any) -> None:
        self.request = request
