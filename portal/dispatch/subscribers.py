"""Learning from the case API: a case created with the reporter's text and a chosen code is a
dispatcher's decision, stored as an example (generated demo cases never pass through here)."""

from __future__ import annotations

import logging
from typing import Any

from portal.cases.events import CaseCreated
from portal.errors import PortalError

log = logging.getLogger(__name__)


def learn_from_case(event: CaseCreated) -> None:
    text = (event.record.get("description") or "").strip()
    case = event.case
    if not text:
        return
    from portal.dispatch.views import dispatch

    service = dispatch(event.request)
    item = service.catalogue.snapshot().items.get(case.item_type_id)
    if item is None or item.scheme != "gb47678":
        return  # four-digit codes name components only: no event decision to learn from
    try:
        found = service.engine.classify(service.catalogue.snapshot(), text, service.engine.examples(service.session), 1)
        suggested = found.ranked[0].code if found.ranked else ""
        reporter = event.record.get("reporter") or {}
        known = tuple(v for v in (reporter.get("name"), reporter.get("phone"), reporter.get("email"),
                                  reporter.get("id_number"), event.record.get("address")) if v)
        service.record_example(text, item.code, suggested, source="case_api", case_id=case.id, known=known)
    except PortalError as exc:  # an over-long description, say: the case itself stands
        log.info("dispatch example not stored for case %s: %s", case.id, exc.message)


def includeme(config: Any) -> None:
    config.add_subscriber(learn_from_case, CaseCreated)
