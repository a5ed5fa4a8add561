"""Catalogue pages (Chinese UI, server-rendered, usable without JavaScript)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.view import view_config

from portal import clock
from portal.accounts.permissions import Permissions
from portal.catalogue.history import public_lineage
from portal.catalogue.legal import STATUS_LABELS
from portal.catalogue.reports import PROBLEM_LABELS
from portal.catalogue.resolution import ROLE_LABELS, ROLES
from portal.catalogue.schemas import (
    CheckQuery,
    CoverageQuery,
    DutyCreateSchema,
    DutyListQuery,
    DutyPatchSchema,
    ItemTypeQuery,
)
from portal.catalogue.views import (
    catalogue,
    duties,
    duty_filters,
    duty_id,
    item_type_url,
    override_reason,
    reports,
    responsibility,
    template_globals,
)
from portal.errors import InvalidInput, PortalError
from portal.validation import QuerySchema
from portal.workflow import STATE_LABELS


def _page(**values: Any) -> dict[str, Any]:
    return {**template_globals(), **values}


def _can_edit(request: Request) -> bool:
    return bool(request.has_permission(Permissions.CATALOGUE_EDIT))


# ----------------------------------------------------------------------------- browsing


@view_config(route_name="catalogue.index", renderer="catalogue/index.jinja2", request_method="GET",
             permission=Permissions.PUBLIC_READ, schema=ItemTypeQuery)
def index_page(request: Request) -> dict[str, Any]:
    query = request.parsed
    scheme = query.get("scheme") or "gbt30428"
    kind = query.get("kind") or "component"
    service = catalogue(request)
    items = service.item_types(kind=kind, scheme=scheme, major_code=query.get("major_code"), q=query.get("q"))
    snap = service.snapshot()
    groups: dict[tuple[str, str], list[Any]] = {}
    for item in items:
        groups.setdefault((item.major_code, item.major_name), []).append(item)
    return _page(
        scheme=scheme, kind=kind, q=query.get("q", ""), groups=groups, total=len(items),
        with_duties=snap.items_with_duties, stats={
            "item_types": len(snap.items), "agencies": len(snap.agencies), "grids": len(snap.grids()),
            "duties": snap.duty_count,
        },
        item_url=lambda item: item_type_url(request, item),
        can_edit=_can_edit(request),
    )


@view_config(route_name="catalogue.item_type", renderer="catalogue/item_type.jinja2", request_method="GET",
             permission=Permissions.PUBLIC_READ, schema=ItemTypeQuery)
def item_type_page(request: Request) -> dict[str, Any]:
    service = catalogue(request)
    try:
        item = service.item_type(request.matchdict["code"], request.parsed.get("scheme"), request.parsed.get("kind"))
    except InvalidInput as exc:
        # an ambiguous code: let the reader choose
        candidates = [service.snapshot().item_by_key[text.split(" ")[0]] for text in exc.fields["item_type"]]
        return _page(item=None, candidates=candidates, item_url=lambda i: item_type_url(request, i))
    can_see_drafts = bool(request.has_permission(Permissions.CATALOGUE_VIEW_DRAFTS))
    rows = service.duties_of(item, public_only=not can_see_drafts)
    return _page(
        item=item, candidates=[], crosswalk=service.crosswalk_of(item), duties=rows,
        powers=service.powers_of(item), item_url=lambda i: item_type_url(request, i),
        roles=ROLES, can_edit=_can_edit(request), state_labels=STATE_LABELS,
    )


@view_config(route_name="catalogue.agencies", renderer="catalogue/agencies.jinja2", request_method="GET",
             permission=Permissions.PUBLIC_READ)
def agencies_page(request: Request) -> dict[str, Any]:
    rows = catalogue(request).agencies()
    groups: dict[str, list[Any]] = {}
    for agency in rows:
        groups.setdefault(agency.kind, []).append(agency)
    return _page(groups=groups)


@view_config(route_name="catalogue.areas", renderer="catalogue/areas.jinja2", request_method="GET",
             permission=Permissions.PUBLIC_READ)
def areas_page(request: Request) -> dict[str, Any]:
    return _page(tree=catalogue(request).area_tree("grid"))


@view_config(route_name="catalogue.powers", renderer="catalogue/powers.jinja2", request_method="GET",
             permission=Permissions.PUBLIC_READ)
def powers_page(request: Request) -> dict[str, Any]:
    category = request.GET.get("category") or None
    return _page(powers=catalogue(request).powers(category), category=category,
                 categories=("行政处罚", "行政强制", "行政检查", "行政许可", "其他"))


@view_config(route_name="catalogue.power", renderer="catalogue/power.jinja2", request_method="GET",
             permission=Permissions.PUBLIC_READ)
def power_page(request: Request) -> dict[str, Any]:
    service = catalogue(request)
    power = service.power(request.matchdict["code"])
    snap = service.snapshot()
    items = [snap.item_by_key[k] for k in power.item_type_keys if k in snap.item_by_key]
    return _page(power=power, items=items, item_url=lambda i: item_type_url(request, i))


# ----------------------------------------------------------------------------- the look-up


class LookupForm(QuerySchema):
    item = fields.String(validate=validate.Length(max=50))
    item_type = fields.String(validate=validate.Length(max=40))
    area = fields.String(validate=validate.Regexp(r"^\d{6,20}$"))
    lat = fields.Float(validate=validate.Range(min=-90, max=90), allow_nan=False)
    lon = fields.Float(validate=validate.Range(min=-180, max=180), allow_nan=False)
    at = fields.Date()
    urgency = fields.String(load_default="normal", validate=validate.OneOf(("normal", "urgent")))


def _area_options(request: Request) -> list[dict[str, Any]]:
    """Street groups of the area picker: the street, its zones, units and grids, indented."""
    snap = catalogue(request).snapshot()
    groups = []
    for district_id in snap.children.get(None, ()):
        for street_id in snap.children.get(district_id, ()):
            street = snap.areas[street_id]
            options = [(street.code, street.name)]

            def walk(area_id: int, depth: int) -> None:
                for child_id in snap.children.get(area_id, ()):
                    child = snap.areas[child_id]
                    options.append((child.code, "\u3000" * depth + child.name))  # noqa: B023 - walk runs within its iteration
                    walk(child_id, depth + 1)

            walk(street_id, 1)
            groups.append({"label": street.name, "options": options})
    return groups


@view_config(route_name="catalogue.lookup", renderer="catalogue/lookup.jinja2", request_method="GET",
             permission=Permissions.PUBLIC_READ)
def lookup_page(request: Request) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    try:
        # empty fields of a submitted form mean "not given"
        form = LookupForm().load({k: v for k, v in request.GET.items() if v.strip()})
    except ValidationError as exc:
        form, errors = {}, exc.normalized_messages()
    service = catalogue(request)
    snap = service.snapshot()
    chosen = None
    candidates: list[Any] = []
    text = (form.get("item") or "").strip()
    if form.get("item_type"):
        try:
            chosen = service.resolve_item_info(form["item_type"])
        except PortalError as exc:
            errors["item"] = [exc.message]
    elif text:
        candidates = service.find_item_types(text, limit=30)
        exact = [c for c in candidates if text in (c.name, c.code, c.key)]
        if len(exact) == 1:
            chosen = exact[0]
        elif len(candidates) == 1:
            chosen = candidates[0]
        if not candidates:
            errors["item"] = [f"没有找到与“{text}”相符的部件或事件。"]
    result = None
    has_place = bool(form.get("area")) or (form.get("lat") is not None and form.get("lon") is not None)
    if chosen is not None and has_place and not errors:
        try:
            result = responsibility(request).resolve(
                chosen, area=form.get("area"), lat=form.get("lat"), lon=form.get("lon"), at=form.get("at"),
                urgency=form.get("urgency", "normal"))
        except PortalError as exc:
            errors["place"] = [exc.message]
    elif chosen is not None and not has_place and (request.GET.get("area") is not None or "lat" in request.GET):
        errors["place"] = ["请选择区域或填写坐标。"]
    names = sorted({i.name for i in snap.items.values()} | {a for i in snap.items.values() for a in i.aliases})
    return _page(
        form=form, raw=request.GET, errors=errors, chosen=chosen, candidates=candidates if chosen is None else [],
        result=result, names=names, area_groups=_area_options(request), status_labels=STATUS_LABELS,
        item_url=lambda i: item_type_url(request, i), today=clock.today(),
    )


# ----------------------------------------------------------------------------- editing


def _item_type_key(request: Request, text: str) -> str:
    """The form shows an item type as "code name" (09006 井盖); that names one type even where a
    code alone is shared by a component and an event. Anything else is passed on as typed."""
    code, _, name = text.partition(" ")
    if name.strip():
        snap = catalogue(request).snapshot()
        matches = [i for i in snap.items_by_code.get(code, ()) if i.name == name.strip()]
        if len(matches) == 1:
            return matches[0].key
    return text


def _item_type_label(request: Request, value: str) -> tuple[str, Any]:
    """What the item-type box shows for a stored key: "code name", and the type itself."""
    item = catalogue(request).snapshot().item_by_key.get(value) if value.count(":") == 2 else None
    return (f"{item.code} {item.name}", item) if item is not None else (value, None)


def _form_data(request: Request, *, partial: bool) -> dict[str, Any]:
    post = request.POST
    data: dict[str, Any] = {}
    for name in ("item_type", "area", "role", "agency", "note", "source_kind", "source_id", "source_ref",
                 "valid_from", "valid_to", "urgent_hours", "normal_working_days", "basis_reviewed_on", "comment"):
        value = post.get(name)
        if value is None:
            continue
        value = value.strip()
        if name == "item_type":
            value = _item_type_key(request, value)
        if value == "" and name in ("valid_from", "valid_to", "urgent_hours", "normal_working_days",
                                    "basis_reviewed_on", "source_id"):
            data[name] = None
        elif value != "" or name in ("note", "source_ref"):
            data[name] = value
    if "citations" in post:
        data["citations"] = [line.strip() for line in post.get("citations", "").splitlines() if line.strip()]
    if post.get("force"):
        data["force"] = True
    return data


def _duty_form_context(request: Request, duty: Any = None, values: dict[str, Any] | None = None,
                       errors: dict[str, Any] | None = None) -> dict[str, Any]:
    service = catalogue(request)
    if values is None and duty is not None:
        values = {
            "item_type": duty.item_type.key, "area": duty.area.code, "role": duty.role, "agency": duty.agency.code,
            "citations": "\n".join(duty.citations or ()), "note": duty.note, "source_kind": duty.source_kind,
            "source_id": duty.source_id or "", "source_ref": duty.source_ref, "valid_from": duty.valid_from or "",
            "valid_to": duty.valid_to or "", "urgent_hours": duty.urgent_hours if duty.urgent_hours is not None else "",
            "normal_working_days": duty.normal_working_days if duty.normal_working_days is not None else "",
        }
    values = dict(values or {})
    if isinstance(values.get("citations"), list):
        values["citations"] = "\n".join(values["citations"])
    values["item_type"], chosen_item = _item_type_label(request, str(values.get("item_type") or ""))
    return _page(
        duty=duty, values=values, errors=errors or {}, agencies=service.agencies(), chosen_item=chosen_item,
        area_groups=_area_options(request), roles=ROLES,
    )


@view_config(route_name="catalogue.duties", renderer="catalogue/duties.jinja2", request_method="GET",
             permission=Permissions.CATALOGUE_VIEW_DRAFTS, schema=DutyListQuery)
def duties_page(request: Request) -> dict[str, Any]:
    query = dict(request.parsed, within=True)  # staff pick a street and mean everything in it
    errors: dict[str, Any] = {}
    try:
        filters = duty_filters(request, query)
    except PortalError as exc:
        errors = {**exc.fields, "_": [exc.message]}
        rows, total = [], 0
    else:
        rows, total = duties(request).list(state=query.get("state"), limit=query["page_size"],
                                           offset=(query["page"] - 1) * query["page_size"], **filters)
    pages = max(1, -(-total // query["page_size"]))
    return _page(duties=rows, total=total, page=query["page"], pages=pages, query=query, errors=errors,
                 state_labels=STATE_LABELS, can_edit=_can_edit(request), area_groups=_area_options(request),
                 agency_options=[(a.code, a.name) for a in catalogue(request).agencies()],
                 role_options=[(r, ROLE_LABELS[r]) for r in ROLES])


@view_config(route_name="catalogue.duty_new", renderer="catalogue/duty_form.jinja2", request_method="GET",
             permission=Permissions.CATALOGUE_EDIT)
def duty_new_page(request: Request) -> dict[str, Any]:
    values = {k: request.GET.get(k, "") for k in ("item_type", "area", "role", "agency")}
    values.setdefault("source_kind", "regulation")
    return _duty_form_context(request, values=values)


@view_config(route_name="catalogue.duty_new", renderer="catalogue/duty_form.jinja2", request_method="POST",
             permission=Permissions.CATALOGUE_EDIT)
def duty_create_page(request: Request) -> Any:
    raw = _form_data(request, partial=False)
    try:
        data = DutyCreateSchema().load(raw)
        data.pop("force", None)
        comment = data.pop("comment", None)
        submit = data.pop("submit", False) or bool(request.POST.get("submit_for_review"))
        service = duties(request)
        duty = service.create(data)
        if submit:
            service.transition(duty, "submit", comment)
    except ValidationError as exc:
        request.response.status = 400
        return _duty_form_context(request, values=raw, errors=exc.normalized_messages())
    except PortalError as exc:
        request.response.status = exc.status
        return _duty_form_context(request, values=raw, errors={**exc.fields, "_": [exc.message]})
    request.session.flash(f"已保存权责条目 #{duty.id}（{duty.state_label}）。", "success")
    return HTTPSeeOther(request.route_url("catalogue.duty", id=duty.id))


@view_config(route_name="catalogue.duty", renderer="catalogue/duty.jinja2", request_method="GET",
             permission=Permissions.CATALOGUE_DUTY_READ)
def duty_page(request: Request) -> dict[str, Any]:
    service = duties(request)
    duty = request.context.duty
    can_see_drafts = bool(request.has_permission(Permissions.CATALOGUE_VIEW_DRAFTS))
    lineage = service.lineage(duty)
    if not can_see_drafts:
        lineage = public_lineage(lineage)
    # the text as it stood while the duty applied: today, or its last day if it has ended
    on = min(clock.today(), duty.valid_to) if duty.valid_to else clock.today()
    return _page(
        duty=duty, history=service.history(duty, include_drafts=can_see_drafts), lineage=lineage,
        legal_basis=responsibility(request).legal_basis(duty.citations or (), on), basis_on=on,
        status_labels=STATUS_LABELS,
        successor=next((d for d in lineage if d.revision_of_id == duty.id), None),
        collisions=service.collisions(duty) if duty.state in ("draft", "pending", "published") else [],
        open_revision=service.open_revision(duty) if duty.state == "published" and can_see_drafts else None,
        transitions=duty.available_transitions() if _can_edit(request) else [],
        can_edit=_can_edit(request), can_publish=bool(request.has_permission(Permissions.CATALOGUE_PUBLISH)),
        own_change=service.four_eyes and _is_own_change(request, duty),
        can_override=bool(request.has_permission(Permissions.CATALOGUE_PUBLISH_OVERRIDE)),
        state_labels=STATE_LABELS, item_url=lambda i: item_type_url(request, i),
        show_actors=can_see_drafts,
    )


def _is_own_change(request: Request, duty: Any) -> bool:
    """Whether the viewer wrote or submitted this revision (four eyes: then someone else publishes)."""
    identity = request.identity
    if identity is None or duty.state != "pending":
        return False
    return identity.user.id in {author_id for author_id, _ in duties(request).authors(duty)}


@view_config(route_name="catalogue.duty_edit", renderer="catalogue/duty_form.jinja2", request_method="GET",
             permission=Permissions.CATALOGUE_EDIT)
def duty_edit_page(request: Request) -> dict[str, Any]:
    return _duty_form_context(request, duty=duties(request).get(duty_id(request)))


@view_config(route_name="catalogue.duty_edit", renderer="catalogue/duty_form.jinja2", request_method="POST",
             permission=Permissions.CATALOGUE_EDIT)
def duty_update_page(request: Request) -> Any:
    service = duties(request)
    duty = service.get(duty_id(request))
    raw = _form_data(request, partial=True)
    try:
        data = DutyPatchSchema().load(raw)
        data.pop("force", None)
        data.pop("comment", None)
        changed = service.update(duty, data)
    except ValidationError as exc:
        request.response.status = 400
        return _duty_form_context(request, duty=duty, values=raw, errors=exc.normalized_messages())
    except PortalError as exc:
        request.response.status = exc.status
        return _duty_form_context(request, duty=duty, values=raw, errors={**exc.fields, "_": [exc.message]})
    if changed.id != duty.id:
        request.session.flash(f"已为已发布条目 #{duty.id} 建立修订 #{changed.id}，审核发布后生效。", "success")
    else:
        request.session.flash("已保存修改。", "success")
    return HTTPSeeOther(request.route_url("catalogue.duty", id=changed.id))


@view_config(route_name="catalogue.duty_transition", request_method="POST", permission=Permissions.CATALOGUE_EDIT)
def duty_transition_page(request: Request) -> Any:
    service = duties(request)
    duty = service.get(duty_id(request))
    name = request.POST.get("transition", "")
    if name in ("publish", "reject", "withdraw") and not request.has_permission(Permissions.CATALOGUE_PUBLISH):
        from pyramid.httpexceptions import HTTPForbidden

        raise HTTPForbidden()
    try:
        service.transition(duty, name, request.POST.get("comment") or None, force=bool(request.POST.get("force")),
                           override_reason=override_reason(request, request.POST.get("override_reason")))
    except PortalError as exc:
        details = "；".join(str(v) for values in exc.fields.values() for v in values)
        request.session.flash(exc.message + (f"（{details}）" if details else ""), "error")
    else:
        request.session.flash(f"条目 #{duty.id} 现为“{duty.state_label}”。", "success")
    return HTTPSeeOther(request.route_url("catalogue.duty", id=duty.id))


# ----------------------------------------------------------------------------- reports


@view_config(route_name="catalogue.stale", renderer="catalogue/stale.jinja2", request_method="GET",
             permission=Permissions.PUBLIC_READ, schema=CheckQuery)
def stale_page(request: Request) -> dict[str, Any]:
    at = request.parsed.get("at") or clock.today()
    findings = reports(request).stale_basis(at)
    stale = [f for f in findings if f.stale]
    info = [f for f in findings if not f.stale]
    return _page(at=at, stale=stale, info=info, problem_labels=PROBLEM_LABELS)


@view_config(route_name="catalogue.coverage", renderer="catalogue/coverage.jinja2", request_method="GET",
             permission=Permissions.PUBLIC_READ, schema=CoverageQuery)
def coverage_page(request: Request) -> dict[str, Any]:
    query = request.parsed
    report = reports(request).coverage(query.get("at"), kind=query.get("kind"), scheme=query.get("scheme"))
    return _page(report=report, query=query, item_url=lambda i: request.route_url(
        "catalogue.item_type", code=i["code"], _query={"scheme": i["scheme"], "kind": i["kind"]}))

