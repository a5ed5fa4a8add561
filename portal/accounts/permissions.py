"""Permissions, named ``domain:thing:action`` (warehouse style), and who holds them."""

from __future__ import annotations

from enum import StrEnum

from pyramid.authorization import ALL_PERMISSIONS, Allow, Authenticated, Everyone

from portal.accounts.models import Role


class Permissions(StrEnum):
    PUBLIC_READ = "public:content:read"
    ADMIN_AUDIT_READ = "admin:audit:read"
    ADMIN_USERS_MANAGE = "admin:users:manage"
    ACCOUNT_VIEW = "accounts:self:view"
    REGULATIONS_EDIT = "regulations:regulation:edit"
    CATALOGUE_VIEW_DRAFTS = "catalogue:duty:view-drafts"
    # granted per duty by portal.catalogue.resources: everyone for published ones, draft readers for the rest
    CATALOGUE_DUTY_READ = "catalogue:duty:read"
    CATALOGUE_EDIT = "catalogue:duty:edit"
    CATALOGUE_PUBLISH = "catalogue:duty:publish"
    # publishing one's own change despite four eyes, with a recorded reason: admins only
    CATALOGUE_PUBLISH_OVERRIDE = "catalogue:duty:publish-override"
    ARBITRATION_VOTE = "arbitration:dispute:vote"
    ARBITRATION_MANAGE = "arbitration:dispute:manage"
    CASES_INGEST = "cases:case:ingest"
    CASES_VIEW_PRIVATE = "cases:case:view-private"
    OPEN311_SUBMIT = "open311:request:submit"


def principal_for_role(role: Role | str) -> str:
    return f"role:{role}"


# The site-wide ACL; resource classes of the domains narrow or extend it for their own content.
ROOT_ACL: list[tuple[str, str, object]] = [
    (Allow, principal_for_role(Role.ADMIN), ALL_PERMISSIONS),
    (Allow, Everyone, Permissions.PUBLIC_READ),
    (Allow, Authenticated, Permissions.ACCOUNT_VIEW),
    # Any authenticated API client (a key of any user) may submit Open311 requests.
    (Allow, Authenticated, Permissions.OPEN311_SUBMIT),
    (Allow, principal_for_role(Role.EDITOR), Permissions.CATALOGUE_VIEW_DRAFTS),
    (Allow, principal_for_role(Role.EDITOR), Permissions.CATALOGUE_EDIT),
    (Allow, principal_for_role(Role.EDITOR), Permissions.CATALOGUE_PUBLISH),
    (Allow, principal_for_role(Role.EDITOR), Permissions.REGULATIONS_EDIT),
    (Allow, principal_for_role(Role.DISPATCHER), Permissions.CATALOGUE_VIEW_DRAFTS),
    (Allow, principal_for_role(Role.DISPATCHER), Permissions.CASES_INGEST),
    (Allow, principal_for_role(Role.DISPATCHER), Permissions.CASES_VIEW_PRIVATE),
    (Allow, principal_for_role(Role.CLERK), Permissions.CASES_INGEST),
    (Allow, principal_for_role(Role.CLERK), Permissions.ARBITRATION_MANAGE),
    (Allow, principal_for_role(Role.EXPERT), Permissions.ARBITRATION_VOTE),
]
