"""The responsibility catalogue as open data: item types (both schemes) and their crosswalk,
agencies, areas (with GeoJSON), published duties with their resolved legal bases, and powers."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased, joinedload

from portal import clock
from portal.catalogue.models import (
    AGENCY_KIND_VALUES,
    LEVEL_VALUES,
    POWER_CATEGORY_VALUES,
    ROLE_VALUES,
    SOURCE_VALUES,
    Agency,
    Area,
    CatalogueState,
    CrosswalkLink,
    Duty,
    ItemType,
    Power,
)
from portal.catalogue.resolution import ROLE_LABELS, SOURCE_LABELS
from portal.catalogue.views import AGENCY_KIND_LABELS, CROSSWALK_LABELS, LEVEL_LABELS
from portal.opendata.registry import Dataset, ExportContext, Field, Stamp
from portal.workflow import State

YIELD_PER = 1000


def catalogue_stamp(session: Session, *extra: Any) -> tuple[str, Any]:
    state = session.get(CatalogueState, 1)
    token = state.token if state else ""
    return hashlib.sha256(repr((token, *extra)).encode()).hexdigest()[:32], state.changed_at if state else None


def _stream(session: Session, stmt: Any) -> Any:
    # A server-side cursor on PostgreSQL; SQLite's cursor is lazy anyway.
    return session.execute(stmt.execution_options(yield_per=YIELD_PER))


# ----------------------------------------------------------------------------- item types


def item_type_rows(ctx: ExportContext) -> Iterator[dict[str, Any]]:
    stmt = select(ItemType).order_by(ItemType.scheme, ItemType.kind, ItemType.code)
    for (item,) in _stream(ctx.session, stmt):
        yield {"key": item.key, "scheme": item.scheme, "kind": item.kind, "code": item.code, "name": item.name,
               "major_code": item.major_code, "major_name": item.major_name, "aliases": list(item.aliases or ()),
               "urgent_hours": item.urgent_hours, "normal_working_days": item.normal_working_days,
               "related_code": item.related_code or None}


def _count_stamp(model: Any, *criteria: Any) -> Any:
    def stamp(session: Session, registry: Any) -> Stamp:
        token, changed = catalogue_stamp(session, model.__tablename__)
        rows = session.scalar(select(func.count()).select_from(model).where(*criteria)) or 0
        return Stamp(rows, changed, token)
    return stamp


ITEM_TYPES = Dataset(
    name="item-types",
    title="部件与事件分类",
    description="城市管理部件和事件的两套分类：四位码（GB/T 30428.2 体系）与五位码（GB/T 47678.5-2026），"
                "含大类、别名和默认处置时限。",
    fields=(
        Field("key", "string", "唯一键", "分类体系:类别:代码"),
        Field("scheme", "string", "分类体系", "gbt30428 四位码；gb47678 五位码", enum=("gbt30428", "gb47678")),
        Field("kind", "string", "类别", "component 部件；event 事件", enum=("component", "event")),
        Field("code", "string", "代码"),
        Field("name", "string", "名称"),
        Field("major_code", "string", "大类代码"),
        Field("major_name", "string", "大类名称"),
        Field("aliases", "array", "别名（常用叫法）"),
        Field("urgent_hours", "integer", "紧急案件处置时限（小时）"),
        Field("normal_working_days", "integer", "一般案件处置时限（工作日）"),
        Field("related_code", "string", "另一体系中的对应代码"),
    ),
    rows=item_type_rows, stamp=_count_stamp(ItemType), primary_key="key", incremental=False,
    keywords=("部件", "事件", "分类", "GB/T 30428"), theme="catalogue", order=30,
)


def crosswalk_rows(ctx: ExportContext) -> Iterator[dict[str, Any]]:
    source, target = aliased(ItemType), aliased(ItemType)
    stmt = (select(CrosswalkLink, source, target)
            .join(source, source.id == CrosswalkLink.from_item_id)
            .outerjoin(target, target.id == CrosswalkLink.to_item_id)
            .order_by(source.code, target.code))
    for link, old, new in _stream(ctx.session, stmt):
        yield {"id": link.id, "from_key": old.key, "from_code": old.code, "from_name": old.name,
               "to_key": new.key if new else None, "to_code": new.code if new else None,
               "to_name": new.name if new else None, "relation": link.kind,
               "relation_label": CROSSWALK_LABELS.get(link.kind, link.kind)}


CROSSWALK = Dataset(
    name="item-type-crosswalk",
    title="四位码与五位码对照",
    description="四位码部件到五位码部件的对照关系：一致、更名、拆分、近似或无对应。",
    fields=(
        Field("id", "integer", "序号"),
        Field("from_key", "string", "四位码唯一键"),
        Field("from_code", "string", "四位码"),
        Field("from_name", "string", "四位码名称"),
        Field("to_key", "string", "五位码唯一键"),
        Field("to_code", "string", "五位码"),
        Field("to_name", "string", "五位码名称"),
        Field("relation", "string", "对应关系", "exact 一致；renamed 更名；split 拆分；approximate 近似；none 无对应",
              enum=tuple(CROSSWALK_LABELS)),
        Field("relation_label", "string", "对应关系（中文）"),
    ),
    rows=crosswalk_rows, stamp=_count_stamp(CrosswalkLink), incremental=False,
    keywords=("分类", "对照"), theme="catalogue", order=31,
)


# ----------------------------------------------------------------------------- agencies and areas


def agency_rows(ctx: ExportContext) -> Iterator[dict[str, Any]]:
    parent, area = aliased(Agency), aliased(Area)
    stmt = (select(Agency, parent.code, area.code).outerjoin(parent, parent.id == Agency.parent_id)
            .outerjoin(area, area.id == Agency.area_id).order_by(Agency.code))
    if ctx.updated_since is not None:
        stmt = stmt.where(Agency.updated_at >= ctx.updated_since)
    for agency, parent_code, area_code in _stream(ctx.session, stmt):
        yield {"code": agency.code, "name": agency.name, "short_name": agency.short_name, "kind": agency.kind,
               "kind_label": AGENCY_KIND_LABELS.get(agency.kind, agency.kind), "parent_code": parent_code,
               "area_code": area_code, "supervision_phone": agency.supervision_phone,
               "phone_is_demo": agency.phone_is_demo, "unit_codes": list(agency.unit_codes or ()),
               "updated_at": agency.updated_at}


AGENCIES = Dataset(
    name="agencies",
    title="责任单位",
    description="职能部门、街道办事处、公用事业单位、企业和物业服务企业：上级单位、所在区域、监督电话和负责的社区。",
    fields=(
        Field("code", "string", "单位代码"),
        Field("name", "string", "单位名称"),
        Field("short_name", "string", "简称"),
        Field("kind", "string", "单位类型", "、".join(f"{k} {v}" for k, v in AGENCY_KIND_LABELS.items()),
              enum=AGENCY_KIND_VALUES),
        Field("kind_label", "string", "单位类型（中文）"),
        Field("parent_code", "string", "上级单位代码"),
        Field("area_code", "string", "所在区域代码"),
        Field("supervision_phone", "string", "监督电话"),
        Field("phone_is_demo", "boolean", "电话是否为示例号码"),
        Field("unit_codes", "array", "负责的社区代码"),
        Field("updated_at", "datetime", "最近修改时间"),
    ),
    rows=agency_rows, stamp=_count_stamp(Agency), primary_key="code",
    keywords=("职能部门", "权属单位", "养护单位"), theme="catalogue", order=32,
)


def area_rows(ctx: ExportContext) -> Iterator[dict[str, Any]]:
    parent = aliased(Area)
    stmt = (select(Area, parent.code).outerjoin(parent, parent.id == Area.parent_id)
            .order_by(Area.depth, Area.code))
    for area, parent_code in _stream(ctx.session, stmt):
        yield {"code": area.code, "name": area.name, "level": area.level,
               "level_label": LEVEL_LABELS.get(area.level, area.level), "depth": area.depth,
               "parent_code": parent_code, "area_km2": area.area_km2, "_geometry": area.geometry}


AREAS = Dataset(
    name="areas",
    title="区域与网格",
    description="区、街道、片区、社区（单元）和网格五级区域及其边界；GeoJSON 格式含多边形，可直接加载到地图。",
    fields=(
        Field("code", "string", "区域代码"),
        Field("name", "string", "名称"),
        Field("level", "string", "层级", "、".join(f"{k} {v}" for k, v in LEVEL_LABELS.items()), enum=LEVEL_VALUES),
        Field("level_label", "string", "层级（中文）"),
        Field("depth", "integer", "层级深度（区为 0）"),
        Field("parent_code", "string", "上级区域代码"),
        Field("area_km2", "number", "面积（平方公里）"),
    ),
    rows=area_rows, stamp=_count_stamp(Area), primary_key="code", incremental=False,
    geometry=lambda row: row.get("_geometry"),
    keywords=("网格", "街道", "社区", "GeoJSON"), theme="catalogue", order=33,
)


# ----------------------------------------------------------------------------- duties


class ArticleIds:
    """Citation text → (regulation id, article id, status) on a date, memoised for one export."""

    def __init__(self, session: Session) -> None:
        try:
            from portal.regulations.services import ArticleLookupService
        except ImportError:  # the regulations library is not part of this installation
            self.lookup = None
        else:
            self.lookup = ArticleLookupService(session)
        self.on = clock.today()
        self.memo: dict[str, dict[str, Any]] = {}

    def __call__(self, text: str) -> dict[str, Any]:
        hit = self.memo.get(text)
        if hit is None:
            hit = self.memo[text] = self._resolve(text)
        return hit

    def _resolve(self, text: str) -> dict[str, Any]:
        from portal.regulations.citations import parse_citation

        citation = parse_citation(text)
        basis = {"citation": citation.render() if citation else text, "regulation_id": None, "article_id": None,
                 "in_force": False}
        if citation is None or self.lookup is None:
            return basis
        article = (f"{citation.article_number}-{citation.article_suffix}" if citation.article_suffix
                   else citation.article_number)
        result = self.lookup.lookup(citation.regulation_title, article, on=self.on, paragraph=citation.paragraph)
        regulation = getattr(result, "regulation", None)
        found = getattr(result, "article", None)
        basis.update(regulation_id=getattr(regulation, "id", None), article_id=getattr(found, "id", None),
                     in_force=bool(getattr(result, "in_force", False)))
        return basis


TOMBSTONE_STATES = (State.WITHDRAWN.value, State.SUPERSEDED.value)


def duty_rows(ctx: ExportContext) -> Iterator[dict[str, Any]]:
    articles = ArticleIds(ctx.session)
    stmt = (select(Duty).options(joinedload(Duty.item_type), joinedload(Duty.area), joinedload(Duty.agency))
            .order_by(Duty.id))
    if ctx.updated_since is None:
        stmt = stmt.where(Duty.state == State.PUBLISHED.value)
    else:
        # Incremental: what was published, and what stopped being (tombstones) since then.
        stmt = stmt.where(Duty.updated_at >= ctx.updated_since,
                          or_(Duty.state == State.PUBLISHED.value, Duty.state.in_(TOMBSTONE_STATES)))
    for (duty,) in _stream(ctx.session, stmt):
        item = duty.item_type
        basis = [articles(text) for text in duty.citations or ()]
        yield {"id": duty.id, "lineage_id": duty.lineage_id, "deleted": duty.state != State.PUBLISHED.value,
               "state": duty.state, "item_type_key": item.key, "item_type_code": item.code,
               "item_type_name": item.name, "area_code": duty.area.code, "area_name": duty.area.name,
               "area_level": duty.area.level, "role": duty.role, "role_label": ROLE_LABELS.get(duty.role, duty.role),
               "agency_code": duty.agency.code, "agency_name": duty.agency.name,
               "citations": [b["citation"] for b in basis],
               "article_ids": [b["article_id"] for b in basis if b["article_id"] is not None],
               "legal_basis": basis, "urgent_hours": duty.urgent_hours,
               "normal_working_days": duty.normal_working_days, "valid_from": duty.valid_from,
               "valid_to": duty.valid_to, "source_kind": duty.source_kind,
               "source_label": SOURCE_LABELS.get(duty.source_kind, duty.source_kind), "source_ref": duty.source_ref,
               "note": duty.note, "published_at": duty.published_at, "updated_at": duty.updated_at}


def duty_stamp(session: Session, registry: Any) -> Stamp:
    # Resolved article ids and in-force flags change with the library and with the date.
    from portal.opendata.stamps import regulations_token

    token, changed = catalogue_stamp(session, "duties", regulations_token(session), clock.today().isoformat())
    rows = session.scalar(select(func.count()).select_from(Duty).where(Duty.state == State.PUBLISHED.value)) or 0
    return Stamp(rows, changed, token)


DUTIES = Dataset(
    name="duties",
    title="权责清单（已发布权责条目）",
    description="部件事件类型 × 区域 × 角色（权属、养护、主管、执法）→ 责任单位，含法律依据（引用及解析到的条文编号）、"
                "处置时限、有效期和来源（法规、裁定、协议）。",
    fields=(
        Field("id", "integer", "条目编号"),
        Field("lineage_id", "integer", "条目谱系编号", "同一条目各修订版本共用"),
        Field("deleted", "boolean", "是否已撤回或被取代", "仅在 updated_since 增量导出中可能为 true（墓碑记录）"),
        Field("state", "string", "状态", "published 已发布；withdrawn 已撤回；superseded 已被新修订取代",
              enum=(State.PUBLISHED.value, *TOMBSTONE_STATES)),
        Field("item_type_key", "string", "部件/事件唯一键"),
        Field("item_type_code", "string", "部件/事件代码"),
        Field("item_type_name", "string", "部件/事件名称"),
        Field("area_code", "string", "适用区域代码", "含其下级区域"),
        Field("area_name", "string", "适用区域名称"),
        Field("area_level", "string", "适用区域层级", enum=LEVEL_VALUES),
        Field("role", "string", "角色", "owner 权属；maintainer 养护；supervisor 主管；enforcer 执法", enum=ROLE_VALUES),
        Field("role_label", "string", "角色（中文）"),
        Field("agency_code", "string", "责任单位代码"),
        Field("agency_name", "string", "责任单位名称"),
        Field("citations", "array", "法律依据（引用）", "如《城市道路管理条例》第二十三条第一款"),
        Field("article_ids", "array", "法律依据条文编号", "已解析到的条文（/regulations/{法规编号}/articles/… 的条文 id）"),
        Field("legal_basis", "array", "法律依据详情", "每项：citation 引用、regulation_id 法规编号、article_id 条文编号、in_force 今日是否有效"),
        Field("urgent_hours", "integer", "紧急案件处置时限（小时）"),
        Field("normal_working_days", "integer", "一般案件处置时限（工作日）"),
        Field("valid_from", "date", "生效日期"),
        Field("valid_to", "date", "失效日期"),
        Field("source_kind", "string", "来源", "regulation 法规规定；ruling 裁定；agreement 协议", enum=SOURCE_VALUES),
        Field("source_label", "string", "来源（中文）"),
        Field("source_ref", "string", "来源说明"),
        Field("note", "string", "备注"),
        Field("published_at", "datetime", "发布时间"),
        Field("updated_at", "datetime", "最近修改时间"),
    ),
    rows=duty_rows, stamp=duty_stamp, frequency="daily",
    keywords=("权责清单", "权属", "执法", "法律依据"), theme="catalogue",
    notes=("默认只含已发布条目；带 updated_since 时还含此后撤回或被取代的条目（deleted = true），以便同步删除。",),
    order=20,
)


# ----------------------------------------------------------------------------- powers


def power_rows(ctx: ExportContext) -> Iterator[dict[str, Any]]:
    stmt = select(Power, Agency.code, Agency.name).join(Agency, Agency.id == Power.holder_id).order_by(Power.code)
    if ctx.updated_since is not None:
        stmt = stmt.where(Power.updated_at >= ctx.updated_since)
    for power, holder_code, holder_name in _stream(ctx.session, stmt):
        yield {"code": power.code, "name": power.name, "category": power.category, "holder_code": holder_code,
               "holder_name": holder_name, "legal_basis": list(power.citations or ()),
               "item_type_keys": list(power.item_type_keys or ()),
               "responsibilities": list(power.responsibilities or ()), "accountability": power.accountability,
               "accountability_basis": list(power.accountability_citations or ()), "updated_at": power.updated_at}


POWERS = Dataset(
    name="powers",
    title="权力事项清单",
    description="行政处罚、行政强制、行政检查、行政许可等权力事项：实施主体、法律依据、涉及的部件事件、责任事项与追责情形。",
    fields=(
        Field("code", "string", "事项编码"),
        Field("name", "string", "事项名称"),
        Field("category", "string", "事项类别", enum=POWER_CATEGORY_VALUES),
        Field("holder_code", "string", "实施主体代码"),
        Field("holder_name", "string", "实施主体名称"),
        Field("legal_basis", "array", "设定依据（引用）"),
        Field("item_type_keys", "array", "涉及的部件/事件唯一键"),
        Field("responsibilities", "array", "责任事项"),
        Field("accountability", "string", "追责情形"),
        Field("accountability_basis", "array", "追责依据（引用）"),
        Field("updated_at", "datetime", "最近修改时间"),
    ),
    rows=power_rows, stamp=_count_stamp(Power), primary_key="code",
    keywords=("权力清单", "行政处罚", "行政许可"), theme="catalogue", order=21,
)


def includeme(config: Any) -> None:
    for dataset in (DUTIES, POWERS, ITEM_TYPES, CROSSWALK, AGENCIES, AREAS):
        config.add_opendata_dataset(dataset)
