"""Route factories with ACLs for the arbitration pages and API.

A dispute's ACL is built from the dispute itself: clerks (and admins) run it; an expert may see and
vote only on a dispute whose panel seats them and from which they are not recused. The dispute
context has no parent, so the site-wide grant of ``arbitration:dispute:vote`` to every expert does
not reach here: sitting on the panel is what counts.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pyramid.authorization import ALL_PERMISSIONS, DENY_ALL, Allow, Everyone
from pyramid.request import Request

from portal.accounts.models import Role
from portal.accounts.permissions import ROOT_ACL, Permissions, principal_for_role
from portal.errors import NotFound

_MAX_ID = 2**31 - 1


class ArbitrationPermissions(StrEnum):
    VIEW = "arbitration:dispute:view"
    MANAGE = Permissions.ARBITRATION_MANAGE.value
    VOTE = Permissions.ARBITRATION_VOTE.value
    PUBLISH = "arbitration:ruling:publish"
    EVIDENCE = "arbitration:evidence:read"


class ArbitrationRoot:
    """The workbench (/arbitration): clerks see every dispute, experts their own panels."""

    def __init__(self, request: Request) -> None:
        self.request = request

    @property
    def __acl__(self) -> list[tuple[str, str, Any]]:
        return [
            (Allow, principal_for_role(Role.ADMIN), ALL_PERMISSIONS),
            (Allow, principal_for_role(Role.CLERK), (ArbitrationPermissions.VIEW, ArbitrationPermissions.MANAGE,
                                                   ArbitrationPermissions.PUBLISH, ArbitrationPermissions.EVIDENCE)),
            (Allow, principal_for_role(Role.EXPERT), ArbitrationPermissions.VIEW),
            (Allow, Everyone, Permissions.PUBLIC_READ),
            DENY_ALL,
        ]


class DisputeResource:
    """One dispute; its ACL names the experts seated on its panel."""

    def __init__(self, request: Request) -> None:
        from portal.arbitration.interfaces import IArbitrationService

        self.request = request
        raw = request.matchdict.get("id", "0")
        dispute_id = int(raw) if raw.isdigit() else 0
        if not 0 < dispute_id <= _MAX_ID:
            raise NotFound("未找到该争议。", code="dispute_not_found")
        self.service = request.find_service(IArbitrationService)
        self.dispute = self.service.get_dispute(dispute_id)

    @property
    def __acl__(self) -> list[tuple[str, str, Any]]:
        acl: list[tuple[str, str, Any]] = [
            (Allow, principal_for_role(Role.ADMIN), ALL_PERMISSIONS),
            (Allow, principal_for_role(Role.CLERK), (ArbitrationPermissions.VIEW, ArbitrationPermissions.MANAGE,
                                                   ArbitrationPermissions.PUBLISH, ArbitrationPermissions.EVIDENCE)),
        ]
        for seat in self.dispute.active_seats:
            expert = seat.expert
            # Recusal is re-checked here too: a seat of a conflicted expert grants nothing.
            if expert.user_id and expert.active and not self.service.conflict(expert, self.dispute):
                acl.append((Allow, f"user:{expert.user_id}", (ArbitrationPermissions.VIEW,
                                                              ArbitrationPermissions.VOTE,
                                                              ArbitrationPermissions.EVIDENCE)))
        acl.append(DENY_ALL)
        return acl


def public_factory(request: Request) -> Any:
    """Public pages of the domain (rulings, experts): the site-wide ACL."""
    from portal.resources import Root

    return Root(request)


__all__ = ["ROOT_ACL", "ArbitrationPermissions", "ArbitrationRoot", "DisputeResource", "public_factory"]
