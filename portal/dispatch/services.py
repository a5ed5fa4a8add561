"""The dispatch assistant's services.

:class:`DispatchEngine` is process-wide: the ranker (built once per catalogue snapshot from the
item types and the vocabulary), the place finder (areas + gazetteer) and the index of confirmed
examples (rebuilt when an example is added or discarded anywhere: a cheap version query per
suggestion tells). :class:`DispatchService` is per request: it adds the catalogue's answer and
the search's articles, and stores what dispatchers teach.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from zope.interface import implementer

from portal.dispatch.interfaces import IDispatchService
from portal.dispatch.models import DispatchExample
from portal.dispatch.places import FEATURE_LABELS, PlaceFinder, PlaceMention
from portal.dispatch.ranking import CodeInfo, ExampleIndex, ItemRanker, RankedCode
from portal.dispatch.vocabulary import Vocabulary
from portal.errors import InvalidInput, NotFound, PortalError
from portal.search import analysis
from portal.search.query import SynonymTable

log = logging.getLogger(__name__)

SCHEME = "gb47678"
MAX_TEXT = 2000
LEVEL_LABELS = {"district": "区", "street": "街道", "zone": "片区", "unit": "社区", "grid": "网格"}


def code_infos(snapshot: Any) -> list[CodeInfo]:
    """The five-digit codes of the catalogue: each event with the component of the same code."""
    events: dict[str, Any] = {}
    components: dict[str, Any] = {}
    for item in snapshot.items.values():
        if item.scheme == SCHEME:
            (events if item.kind == "event" else components)[item.code] = item
    infos = []
    for code, event in sorted(events.items()):
        component = components.get(code)
        names = [event.name, event.name.removesuffix("异常"), *event.aliases]
        if component is not None:
            names += [component.name, *component.aliases]
        infos.append(CodeInfo(code, event.major_code, event.name, component.name if component else "",
                              tuple(dict.fromkeys(n for n in names if n))))
    return infos


class _LRU:
    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


@dataclasses.dataclass
class Classification:
    ranked: list[RankedCode]
    mentions: list[PlaceMention]
    mention: PlaceMention | None


class DispatchEngine:
    """Process-wide state of the assistant (see the module docstring)."""

    def __init__(self, vocabulary_path: str | Path | None, gazetteer_path: str | Path | None,
                 synonyms_path: str | Path | None) -> None:
        self.vocabulary = Vocabulary.load(vocabulary_path)
        self.gazetteer = PlaceFinder.read_gazetteer(gazetteer_path)
        self.synonyms = SynonymTable.load(synonyms_path) if synonyms_path and Path(synonyms_path).exists() else SynonymTable()
        # The assistant reads texts through the search's segmenter, which a serving process
        # teaches the synonym words when its search starts: teach them here too, so that a
        # reporter's words are cut alike whether the search has started yet or not, and in
        # `portal eval-dispatch` as when served (the figures measured are the figures served).
        analysis.warm_up(self.synonyms.words())
        self._lock = threading.Lock()
        self.warmed = threading.Event()
        self._for_snapshot: tuple[Any, ItemRanker, PlaceFinder] | None = None
        self._examples: tuple[tuple[Any, ...], ExampleIndex] | None = None
        #: (query, date, index state) -> articles: many reporters describe the same few things
        self.regulations_cache = _LRU(2048)

    @staticmethod
    def search_generation(search: Any) -> Any:
        """What changes when the library does: the index's document count, and the minute (an
        edited article keeps the count: a cached answer lives at most a minute after it)."""
        try:
            count = search.document_count()
        except Exception:  # noqa: BLE001 - an index that cannot answer only disables the cache
            return object()
        return (count, int(time.monotonic() // 60), dt.date.today())

    def warm_up(self, registry: Any) -> None:
        """Build the ranker and the examples' index, and search once for every item type's name,
        so that no reporter waits for it (run in a background thread at start-up)."""
        from portal.catalogue.services import caches
        from portal.search.interfaces import ISearchService, SearchQuery

        session = registry["dbsession_factory"]()
        try:
            snapshot = caches(registry)[0].get(session)
            ranker, _ = self.for_snapshot(snapshot)
            self.examples(session)
            session.rollback()  # no transaction stays open while the index is searched
            search = registry.queryUtility(ISearchService)
            for info in ranker.codes.values() if search is not None else ():
                search.search(SearchQuery(text=info.event_name.removesuffix("异常"), doc_types=("article",), page_size=3))
        except Exception:  # any fault: warming is an optimisation; requests build what they need
            log.exception("dispatch warm-up failed")
        finally:
            session.close()
            self.warmed.set()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> DispatchEngine:
        kb = Path(settings.get("portal.knowledge_base") or "knowledge_base")
        # The search's synonyms (see the segmenter note in __init__).
        synonyms = settings.get("portal.search.synonyms") or kb / "synonyms.yaml"
        return cls(kb / "dispatch" / "vocabulary.yaml", kb / "dispatch" / "gazetteer.yaml", synonyms)

    def for_snapshot(self, snapshot: Any) -> tuple[ItemRanker, PlaceFinder]:
        # Item types and areas are reference data: a new snapshot (a duty was edited) rarely
        # changes them, so the ranker is kept while the item types and areas are the same.
        key = (len(snapshot.items), len(snapshot.areas), max(snapshot.items, default=0))
        cached = self._for_snapshot
        if cached is None or cached[0] != key:
            with self._lock:
                cached = self._for_snapshot
                if cached is None or cached[0] != key:
                    ranker = ItemRanker(code_infos(snapshot), self.vocabulary, self.synonyms)
                    finder = PlaceFinder(((a.code, a.name, a.level) for a in snapshot.areas.values()), self.gazetteer)
                    cached = self._for_snapshot = (key, ranker, finder)
        return cached[1], cached[2]

    def examples(self, session: Session) -> ExampleIndex:
        """The active examples' index, rebuilt when any example was added or discarded."""
        version = tuple(session.execute(
            select(func.count(DispatchExample.id), func.max(DispatchExample.id), func.max(DispatchExample.updated_at))
        ).one())
        cached = self._examples
        if cached is None or cached[0] != version:
            with self._lock:
                cached = self._examples
                if cached is None or cached[0] != version:
                    rows = session.execute(
                        select(DispatchExample.id, DispatchExample.text, DispatchExample.code)
                        .where(DispatchExample.discarded_at.is_(None))
                    ).all()
                    cached = self._examples = (version, ExampleIndex((r.id, r.text, r.code) for r in rows))
        return cached[1]

    def classify(self, snapshot: Any, text: str, examples: ExampleIndex | None = None, limit: int = 5) -> Classification:
        ranker, finder = self.for_snapshot(snapshot)
        normalized = analysis.normalize(text)
        mentions = finder.mentions(normalized)
        ranked = ranker.rank(finder.masked(normalized, mentions), examples, limit=limit)
        return Classification(ranked, mentions, finder.best(mentions))


def check_text(text: str | None) -> str:
    text = (text or "").strip()
    if not text:
        raise InvalidInput("请填写群众反映的内容。", code="empty_text", fields={"text": ["不能为空。"]})
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"内容过长（{len(text)} 字），请精简到 {MAX_TEXT} 字以内。", code="text_too_long",
                           fields={"text": [f"最多 {MAX_TEXT} 字。"]})
    return text


@implementer(IDispatchService)
class DispatchService:
    def __init__(self, session: Session, engine: DispatchEngine, responsibility: Any, search: Any = None,
                 actor: str = "") -> None:
        self.session = session
        self.engine = engine
        self.responsibility = responsibility
        self.catalogue = responsibility.catalogue
        self.search = search
        self.actor = actor

    # -- suggestions ---------------------------------------------------------------------

    def suggest(self, text: str, lat: float | None = None, lon: float | None = None, area: str | None = None,
                at: dt.date | None = None, limit: int = 5, with_answer: bool = True,
                chosen: str | None = None) -> dict[str, Any]:
        """See :class:`~portal.dispatch.interfaces.IDispatchService`; ``chosen`` (a code the
        dispatcher picked) answers for that code instead of the best suggestion."""
        text = check_text(text)
        if (lat is None) != (lon is None):
            raise InvalidInput("纬度和经度须同时提供。", code="incomplete_point", fields={"lat": ["须与 lon 同时提供。"]})
        snapshot = self.catalogue.snapshot()
        place_area, place = self._given_place(snapshot, lat, lon, area)
        found = self.engine.classify(snapshot, text, self.engine.examples(self.session), limit)
        ranker, _ = self.engine.for_snapshot(snapshot)
        if place_area is None and found.mention is not None:
            place_area = snapshot.area_by_code[found.mention.place.area_code]
            place = self._place_dict(snapshot, place_area, "text", found.mention)
        elif place_area is None:
            place = {"area": None, "source": None, "matched": None,
                     "message": "文本中没有识别出本区的街道、社区、道路或广场，请在地图上点选或选择区域。"}
        # The related component only for the best suggestion: the words that name a thing say
        # nothing about the thing of a weaker reading.
        items = [self._item_dict(snapshot, ranker, r, text, with_component=i == 0) for i, r in enumerate(found.ranked)]
        answer: dict[str, Any] = {"text": text, "item_types": items, "place": place,
                                  "responsibility": None, "regulations": []}
        if not items:
            answer["message"] = "未能从文字中判断部件或事件类型，请补充描述或手工选择。"
        if chosen:
            code = self._item_for_code(chosen).code
            ranked = next((r for r in found.ranked if r.code == code), None) or RankedCode(code, 0.0, [])
            answer["chosen"] = self._item_dict(snapshot, ranker, ranked, text)
            answer["responsibility"] = self._responsibility(answer["chosen"], place_area, lat, lon, at)
            answer["regulations"] = self._regulations(answer["chosen"], ranked, at)
        elif with_answer and items:
            answer["responsibility"] = self._responsibility(items[0], place_area, lat, lon, at)
            answer["regulations"] = self._regulations(items[0], found.ranked[0], at)
        return answer

    def _given_place(self, snapshot: Any, lat: float | None, lon: float | None, area: str | None) -> tuple[Any, Any]:
        if area:
            info = snapshot.area_by_code.get(str(area))
            if info is None:
                raise InvalidInput(f"未知的区域编码：{area}", code="unknown_area", fields={"area": ["区域编码不存在。"]})
            return info, self._place_dict(snapshot, info, "area")
        if lat is not None and lon is not None:
            try:
                grid, _ = self.catalogue.locate(lat, lon, snapshot)
            except NotFound:
                raise InvalidInput("该坐标不在本辖区内。", code="outside_district",
                                   fields={"lat": ["坐标不在辖区内。"], "lon": ["坐标不在辖区内。"]}) from None
            place = self._place_dict(snapshot, grid, "point")
            place["point"] = {"lat": lat, "lon": lon}
            return grid, place
        return None, None

    @staticmethod
    def _place_dict(snapshot: Any, area: Any, source: str, mention: PlaceMention | None = None) -> dict[str, Any]:
        place: dict[str, Any] = {
            "area": {"code": area.code, "name": area.name, "level": area.level,
                     "level_label": LEVEL_LABELS.get(area.level, area.level)},
            "ancestors": [a.as_dict() for a in snapshot.ancestors(area)],
            "source": source, "matched": None,
        }
        if mention is not None:
            place["matched"] = mention.place.name
            if mention.place.kind == "feature":
                place["feature"] = {"name": mention.place.name, "kind": mention.place.feature_kind,
                                    "kind_label": FEATURE_LABELS.get(mention.place.feature_kind, "")}
        return place

    @staticmethod
    def _item_dict(snapshot: Any, ranker: ItemRanker, ranked: RankedCode, text: str,
                   with_component: bool = True) -> dict[str, Any]:
        info = ranker.codes[ranked.code]
        event = snapshot.item_by_key[f"{SCHEME}:event:{ranked.code}"]
        out: dict[str, Any] = {
            "code": ranked.code, "scheme": SCHEME, "kind": "event", "key": event.key, "name": info.event_name,
            "major_code": info.major_code, "major_name": event.major_name,
            "score": round(ranked.score, 3), "why": ranked.why,
            "scores": {"vocabulary": round(ranked.vocabulary, 3), "lexical": round(ranked.lexical, 3),
                       "evidence": round(ranked.evidence, 3)},
            "examples": ranked.examples, "component": None,
            # What the catalogue is asked about: in classes 01–05 the component (the thing someone
            # owns and maintains) of the same code, else the event.
            "lookup_key": event.key,
        }
        same_code = snapshot.item_by_key.get(f"{SCHEME}:component:{ranked.code}")
        if same_code is not None and ranked.code[:2] <= "05":
            out["lookup_key"] = same_code.key
        component_code = ranker.related_component(ranked, text) if with_component else None
        component = snapshot.item_by_key.get(f"{SCHEME}:component:{component_code}") if component_code else None
        if component is not None:
            out["component"] = {"code": component.code, "key": component.key, "name": component.name}
        return out

    def _responsibility(self, item: Mapping[str, Any], area: Any, lat: float | None, lon: float | None,
                        at: dt.date | None) -> dict[str, Any]:
        try:
            if lat is not None and lon is not None:
                answer = self.responsibility.resolve(item["lookup_key"], lat=lat, lon=lon, at=at)
                scope = "point"
            elif area is not None:
                answer = self.responsibility.resolve(item["lookup_key"], area=area.code, at=at)
                scope = "area"
            else:
                # No place: the district-wide entries still say who answers for the type.
                district = next(a for a in self.catalogue.snapshot().areas.values() if a.level == "district")
                answer = self.responsibility.resolve(item["lookup_key"], area=district.code, at=at)
                scope = "district"
        except PortalError as exc:
            return {"error": {"code": exc.code, "message": exc.message}}
        answer = dict(answer)
        answer["scope"] = scope
        if scope == "district":
            answer["notice"] = "未确定具体位置，以下按全区权责作答；确定位置后可能不同。"
        return answer

    def _regulations(self, item: Mapping[str, Any], ranked: RankedCode, at: dt.date | None) -> list[dict[str, Any]]:
        if self.search is None:
            return []
        from portal.search.interfaces import SearchQuery, SearchUnavailable

        # The item type's name and what the reporter called the thing: their other words (times,
        # feelings, places, states) would only dilute the search.
        query = " ".join(dict.fromkeys([item["name"].removesuffix("异常"), *ranked.named[:1]]))
        key = (query, at, self.engine.search_generation(self.search))
        cached = self.engine.regulations_cache.get(key)
        if cached is not None:
            return cached
        try:
            results = self.search.search(SearchQuery(text=query, doc_types=("article",), in_force_on=at, page_size=3))
        except SearchUnavailable:
            return []
        found = [{"title": h.title, "regulation_title": h.regulation_title, "article_label": h.article_label,
                  "url": h.url, "snippet": h.snippet, "status": h.status, "score": round(h.score, 3)}
                 for h in results.hits[:3]]
        self.engine.regulations_cache.put(key, found)
        return found

    # -- learning ------------------------------------------------------------------------

    def _item_for_code(self, code: str) -> Any:
        snapshot = self.catalogue.snapshot()
        code = (code or "").strip()
        if ":" in code:
            code = code.rsplit(":", 1)[-1]
        for kind in ("event", "component"):
            item = snapshot.item_by_key.get(f"{SCHEME}:{kind}:{code}")
            if item is not None:
                return item
        raise InvalidInput(f"未知的事件编码：{code}", code="unknown_item_type", fields={"code": ["须为五位事件或部件编码。"]})

    def record_example(self, text: str, code: str, suggested_code: str = "", source: str = "screen",
                       case_id: int | None = None, area_code: str | None = None,
                       known: tuple[str, ...] = ()) -> DispatchExample:
        """``known``: the reporter's name, phone, address… to remove wherever they occur."""
        from portal.cases.privacy import scrub

        text = check_text(text)
        item = self._item_for_code(code)
        area_id = None
        if area_code:
            area = self.catalogue.snapshot().area_by_code.get(area_code)
            area_id = area.id if area else None
        example = DispatchExample(text=scrub(text, known), code=item.code, item_type_id=item.id,
                                  suggested_code=(suggested_code or "")[:8], source=source, case_id=case_id,
                                  area_id=area_id, created_by=self.actor, discarded_by="", discard_reason="")
        self.session.add(example)
        self.session.flush()
        return example

    def discard_example(self, example_id: int, reason: str) -> DispatchExample:
        example = self.session.get(DispatchExample, example_id)
        if example is None:
            raise NotFound(f"样例不存在：{example_id}", code="example_not_found")
        reason = (reason or "").strip()
        if not reason:
            raise InvalidInput("请说明作废原因。", code="reason_required", fields={"reason": ["不能为空。"]})
        if example.discarded_at is None:
            example.discarded_at = dt.datetime.now(dt.UTC)
            example.discarded_by = self.actor
            example.discard_reason = reason[:1000]
            self.session.flush()
        return example

    def examples(self, include_discarded: bool = False, limit: int = 100, offset: int = 0) -> tuple[list[DispatchExample], int]:
        query = select(DispatchExample)
        if not include_discarded:
            query = query.where(DispatchExample.discarded_at.is_(None))
        total = self.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = list(self.session.scalars(query.order_by(DispatchExample.id.desc()).limit(limit).offset(offset)))
        return rows, total


def dispatch_engine(registry: Any) -> DispatchEngine:
    engine = registry.get("dispatch.engine") if hasattr(registry, "get") else None
    if engine is None:
        engine = DispatchEngine.from_settings(registry.settings)
        registry["dispatch.engine"] = engine
    return engine


def dispatch_service_factory(context: Any, request: Any) -> DispatchService:
    from portal.search.interfaces import ISearchService

    identity = getattr(request, "identity", None)
    actor = identity.user.label if identity is not None else ""
    search = request.registry.queryUtility(ISearchService)
    return DispatchService(request.dbsession, dispatch_engine(request.registry), request.responsibility_service,
                           search, actor=actor)
