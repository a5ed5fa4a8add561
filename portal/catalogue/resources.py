"""The catalogue's route factories: who may read a duty depends on its state, so the duty routes
carry their own ACL instead of each view checking (a route that forgot would leak drafts)."""

from __future__ import annotations

from typing import Any

from pyramid.authorization import Allow, Everyone
from pyramid.request import Request

from portal.accounts.permissions import ROOT_ACL, Permissions
from portal.catalogue.history import PUBLIC_STATES
from portal.catalogue.models import Duty

# Whoever may see drafts may read every duty; the public only published (and superseded) ones.
_DRAFT_READERS = [principal for action, principal, permission in ROOT_ACL
                  if action == Allow and permission == Permissions.CATALOGUE_VIEW_DRAFTS]


class DutyResource:
    """One duty (any revision) as the context of its routes."""

    def __init__(self, request: Request, duty: Duty) -> None:
        self.request = request
        self.duty = duty

    @property
    def is_public(self) -> bool:
        return self.duty.state in PUBLIC_STATES

    @property
    def conceal_when_forbidden(self) -> bool:
        """An unpublished revision is not disclosed to those who may not read it: they get a 404,
        as for an id that does not exist, not a login prompt confirming it is there."""
        return not self.is_public and not self.request.has_permission(Permissions.CATALOGUE_DUTY_READ, self)

    def __acl__(self) -> list[tuple[str, str, Any]]:
        readers = [Everyone] if self.is_public else _DRAFT_READERS
        return [(Allow, principal, Permissions.CATALOGUE_DUTY_READ) for principal in readers] + ROOT_ACL


def duty_factory(request: Request) -> DutyResource:
    from portal.catalogue.views import duties, duty_id

    return DutyResource(request, duties(request).get(duty_id(request)))
