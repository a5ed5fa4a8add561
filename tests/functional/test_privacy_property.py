"""Personal data planted anywhere in a case never reaches a public surface (property-based).

Hypothesis writes cases whose every free-text field (description, address, the reporter's fields,
the notes of each step, the rating's comment) carries personal data: names (self-introduced, of
third parties, with rare surnames), mobile and landline numbers (split by zero-width characters,
wrapped in direction overrides, in full-width digits, with spaces and dashes), ID numbers, licence
plates (also new-energy ones) and e-mail addresses (also ``a(at)b.cn`` and a full-width ``＠``).
The case comes in through one of the three doors (the JSON API, Open311's POST, the bulk importer
of ``portal import-cases``), goes through its life cycle and is rated; then every public surface
that shows cases is read (HTML pages, the JSON API, Open311 JSON and XML, the open-data exports,
search) and none may show any planted value, compared after normalisation (NFKC, format
characters removed, digits with their separators collapsed).

Profiles: ``ci`` (the default: a dozen cases per database, about a minute, no shrinking) and
``long`` (``PORTAL_HYPOTHESIS_PROFILE=long``: 300 cases, with shrinking);
``PORTAL_HYPOTHESIS_EXAMPLES=N`` sets the number of cases of either.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
import os
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import webtest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from portal.catalogue.calendar import CHINA_TZ

# Each example is a dozen requests: shrinking a failure would take minutes, so the CI profile
# reports the failing case as generated (the planted values are listed in the message).
settings.register_profile("ci", max_examples=12, deadline=None, database=None,
                          phases=(Phase.explicit, Phase.reuse, Phase.generate),
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("long", max_examples=300, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
PROFILE = os.environ.get("PORTAL_HYPOTHESIS_PROFILE", "ci")
# PORTAL_HYPOTHESIS_EXAMPLES=N runs N cases per database with the chosen profile.
EXAMPLES = int(os.environ.get("PORTAL_HYPOTHESIS_EXAMPLES") or settings.get_profile(PROFILE).max_examples)

# A point in 滨湖街道 and a manhole-cover item type the demo catalogue discloses.
LAT, LON = 30.2336, 120.0860
ITEM = "0103"
AGENCY = "PS"
OPEN311 = "/open311/v2"

# ----------------------------------------------------------------------------- what is planted

COMMON_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑梁谢宋唐许韩冯邓曹彭曾肖董袁潘蒋蔡杜叶程苏魏吕丁沈姚卢姜崔钟谭陆汪范廖贾夏"
# Surnames outside any list of common ones: only the words around them say they are names.
RARE_SURNAMES = ("禤", "乜", "佴", "笪", "仉", "亓", "晁", "缑", "庹", "冼", "邸", "阚", "隗", "郗", "訾", "欧阳", "司马", "上官")
GIVEN_NAME_CHARACTERS = "伟芳娜敏静丽强磊军洋勇艳杰娟涛超秀霞刚桂玉萍鹏辉斌浩凯婷雪琳晨欣怡俊博轩涵睿泽昊"
# The stock third parties of a complaint.
THIRD_PARTIES = ("李四", "王五", "赵六", "张三", "孙七", "周八", "吴九", "郑十")
INTRODUCERS = ("我叫", "联系人", "联系人：", "本人", "举报人", "邻居", "我是")

ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")
SEPARATORS = ("", " ", "-", *ZERO_WIDTH)
FULL_WIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


@dataclasses.dataclass(frozen=True)
class Planted:
    """One piece of personal data: the text planted, and the forms a reader would recognise."""

    kind: str
    text: str
    forms: tuple[str, ...]


def _digit_run(digits: str, groups: tuple[int, ...], separator: str | list[str], full_width: bool,
               override: bool) -> str:
    """``digits`` cut after each of ``groups``, joined by the separator(s), perhaps full-width or
    wrapped in a right-to-left override."""
    parts, start = [], 0
    for size in groups:
        parts.append(digits[start:start + size])
        start += size
    parts.append(digits[start:])
    separators = [separator] * len(groups) if isinstance(separator, str) else separator
    text = parts[0] + "".join(sep + part for sep, part in zip(separators, parts[1:], strict=True))
    if full_width:
        text = text.translate(FULL_WIDTH_DIGITS)
    if override:
        text = "\u202e" + text + "\u202c"
    return text


@st.composite
def mobiles(draw: st.DrawFn) -> Planted:
    digits = "1" + draw(st.sampled_from("3456789")) + "".join(draw(st.lists(st.sampled_from("0123456789"),
                                                                             min_size=9, max_size=9)))
    # One separator throughout, or a different one in each gap (138 1234\u200b5678).
    separators = draw(st.one_of(st.sampled_from(SEPARATORS),
                                st.lists(st.sampled_from(SEPARATORS), min_size=2, max_size=2)))
    text = _digit_run(digits, (3, 4), separators, draw(st.booleans()), draw(st.booleans()))
    if draw(st.booleans()):
        text = draw(st.sampled_from(("+86 ", "+86-", "0086 "))) + text
    return Planted("mobile", text, (digits,))


@st.composite
def landlines(draw: st.DrawFn) -> Planted:
    area = draw(st.sampled_from(("0571", "010", "021", "0574", "0755")))
    local = draw(st.sampled_from("2345678")) + "".join(draw(st.lists(st.sampled_from("0123456789"),
                                                                       min_size=7, max_size=7)))
    separator = draw(st.sampled_from(SEPARATORS))
    text = _digit_run(area + local, (len(area), 4), separator, draw(st.booleans()), draw(st.booleans()))
    if draw(st.booleans()):
        text = f"（{area}）{local}"
    return Planted("landline", text, (area + local,))


@st.composite
def id_numbers(draw: st.DrawFn) -> Planted:
    region = draw(st.sampled_from(("330106", "330102", "110105", "310104", "440305")))
    born = draw(st.dates(min_value=dt.date(1940, 1, 1), max_value=dt.date(2008, 12, 31)))
    serial = "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=3, max_size=3)))
    check = draw(st.sampled_from("0123456789X"))
    value = f"{region}{born:%Y%m%d}{serial}{check}"
    text = value.lower() if check == "X" and draw(st.booleans()) else value
    if draw(st.booleans()):
        text = _digit_run(text, (6, 8), draw(st.sampled_from((" ", *ZERO_WIDTH))), draw(st.booleans()), False)
    return Planted("id_number", text, (value,))


@st.composite
def plates(draw: st.DrawFn) -> Planted:
    province = draw(st.sampled_from(PROVINCES))
    letter = draw(st.sampled_from(PLATE_LETTERS))
    new_energy = draw(st.booleans())
    tail = (draw(st.sampled_from("DF")) + "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=5, max_size=5)))
            if new_energy else
            "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=5, max_size=5))))
    separator = draw(st.sampled_from(("", "·", " ")))
    return Planted("plate", f"{province}{letter}{separator}{tail}", (f"{province}{letter}{tail}",))


@st.composite
def emails(draw: st.DrawFn) -> Planted:
    # Starts with a letter past f and holds a digit: never found by chance in a page (hex tokens).
    local = (draw(st.sampled_from("ghjkmnpqrstuvwxyz")) + draw(st.text("abcdefghijkmnpqrstuvwxyz", min_size=4, max_size=7))
             + draw(st.sampled_from("23456789")))
    domain = draw(st.sampled_from(("example.cn", "mail.example.com", "qq.com", "163.com")))
    at = draw(st.sampled_from(("@", "＠", "(at)", "（at）", "[at]")))
    return Planted("email", f"{local}{at}{domain}", (local,))


@st.composite
def names(draw: st.DrawFn) -> Planted:
    style = draw(st.sampled_from(("introduced", "introduced_rare", "third_party")))
    if style == "third_party":
        name = draw(st.sampled_from(THIRD_PARTIES))
        return Planted("name", name, (name,))
    surname = draw(st.sampled_from(COMMON_SURNAMES if style == "introduced" else RARE_SURNAMES))
    given = "".join(draw(st.lists(st.sampled_from(GIVEN_NAME_CHARACTERS), min_size=1, max_size=2)))
    name = surname + given
    return Planted("name", draw(st.sampled_from(INTRODUCERS)) + name, (name,))


PERSONAL_DATA = st.one_of(mobiles(), landlines(), id_numbers(), plates(), emails(), names())

# Sentences the data is planted in, as people write them.
CONTEXTS = (
    "{}", "雨水井盖缺失，{}。", "请联系{}，谢谢", "{}反映此处井盖破损", "现场核实：{}，已处理。",
    "电话{}", "车牌{}的车辆压坏井盖", "身份证{}", "邮箱{}", "{}和{}在此占道", "（{}）",
)


@st.composite
def free_texts(draw: st.DrawFn) -> tuple[str, list[Planted]]:
    """A sentence with one or two pieces of personal data in it."""
    context = draw(st.sampled_from(CONTEXTS))
    planted = [draw(PERSONAL_DATA) for _ in range(context.count("{}"))]
    if context == "{}和{}在此占道":
        planted = [Planted("name", name, (name,)) for name in draw(st.lists(st.sampled_from(THIRD_PARTIES), min_size=2,
                                                                            max_size=2, unique=True))]
    return context.format(*(p.text for p in planted)), planted


CASE_TEXT_FIELDS = ("description", "address", "dispatch", "handle", "verify", "close", "feedback")


@dataclasses.dataclass
class PlantedCase:
    door: str
    texts: dict[str, str]
    reporter: dict[str, str]
    planted: list[Planted]


@st.composite
def planted_cases(draw: st.DrawFn) -> PlantedCase:
    texts: dict[str, str] = {}
    planted: list[Planted] = []
    for field in CASE_TEXT_FIELDS:
        text, items = draw(free_texts())
        texts[field] = text
        planted += items
    reporter_name = draw(names()).forms[0]
    phone = draw(mobiles())
    email = draw(emails())
    id_number = draw(id_numbers())
    reporter = {"name": reporter_name, "phone": phone.text, "email": email.text, "id_number": id_number.text,
                "account_id": phone.forms[0]}
    planted += [Planted("name", reporter_name, (reporter_name,)), phone, email, id_number]
    return PlantedCase(draw(st.sampled_from(("api", "open311", "import"))), texts, reporter, planted)


# ----------------------------------------------------------------------------- how leaks are seen

_FORMAT_CHARACTERS = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]")
_BETWEEN_DIGITS = re.compile(r"(?<=[0-9Xx])[\s\-\u2010-\u2015·.()（）]+(?=[0-9Xx])")
_BETWEEN_PLATE = re.compile(r"(?<=[A-Za-z\u4e00-\u9fff0-9])[\s·.\-]+(?=[A-Za-z0-9])")


def normalised(text: str) -> str:
    """What a reader sees: entities decoded, NFKC (full-width → ASCII), invisible characters gone."""
    return _FORMAT_CHARACTERS.sub("", unicodedata.normalize("NFKC", html.unescape(text)))


def readable_forms(body: str) -> tuple[str, str, str]:
    """The body as a reader sees it; with digit runs joined; with plate separators removed."""
    text = normalised(body)
    return text, _BETWEEN_DIGITS.sub("", text), _BETWEEN_PLATE.sub("", text)


def leaks(body: str, planted: list[Planted]) -> list[str]:
    text, digits_joined, plates_joined = readable_forms(body)
    lowered = text.lower()
    found = []
    for item in planted:
        for form in item.forms:
            if item.kind in {"mobile", "landline", "id_number"}:
                hit = form.upper() in digits_joined.upper()
            elif item.kind == "plate":
                hit = form in plates_joined
            elif item.kind == "email":
                hit = form in lowered
            else:
                hit = form in text
            if hit:
                found.append(f"{item.kind} {form!r} (planted as {item.text!r})")
    return found


def json_text(response: webtest.TestResponse) -> str:
    """A JSON body with its escapes undone (``\\u200b`` must not hide a number from the check)."""
    return json.dumps(response.json, ensure_ascii=False)


# ----------------------------------------------------------------------------- the three doors


def now_china() -> dt.datetime:
    return dt.datetime.now(CHINA_TZ).replace(microsecond=0)


def steps(case: PlantedCase, reported: dt.datetime) -> list[dict[str, Any]]:
    at = reported
    result = []
    for hours, kind in ((1, "dispatch"), (2, "handle"), (3, "verify"), (4, "close")):
        at = reported + dt.timedelta(hours=hours)
        step = {"kind": kind, "at": at.isoformat(), "note": case.texts[kind]}
        if kind == "dispatch":
            step["agency"] = AGENCY
        result.append(step)
    return result


def record(case: PlantedCase, reported: dt.datetime) -> dict[str, Any]:
    return {
        "external_id": f"PV-{uuid.uuid4().hex[:12]}", "channel": "hotline_12345", "item_type": ITEM,
        "description": case.texts["description"], "reported_at": reported.isoformat(), "lat": LAT, "lon": LON,
        "address": case.texts["address"][:300], "reporter": case.reporter, "events": steps(case, reported),
        "feedback": {"rating": "dissatisfied", "comment": case.texts["feedback"],
                     "at": (reported + dt.timedelta(hours=5)).isoformat()},
    }


def through_api(testapp: webtest.TestApp, headers: dict[str, str], case: PlantedCase, _: Session,
                __: Path) -> tuple[int, str | None]:
    created = testapp.post_json("/api/v1/cases", record(case, now_china() - dt.timedelta(hours=6)),
                                headers=headers, status=201).json
    return created["id"], created["tracking_code"]


def through_open311(testapp: webtest.TestApp, headers: dict[str, str], case: PlantedCase, _: Session,
                    __: Path) -> tuple[int, str | None]:
    from portal import clock

    reported = now_china() - dt.timedelta(hours=6)
    with pytest.MonkeyPatch.context() as patch:
        # Reported a few hours ago, so that its steps are in the past too.
        patch.setattr(clock, "_utcnow", lambda: reported.astimezone(dt.UTC))
        created = post_open311(testapp, headers, case)
    case_id, code = int(created["service_request_id"]), created["token"]
    # The centre works the case through the API; the reporter rates it on the tracking page.
    for step in steps(case, reported):
        testapp.post_json(f"/api/v1/cases/{case_id}/events", step, headers=headers, status=201)
    page = testapp.get("/track")
    form = page.forms[len(page.forms) - 1]
    form["tracking_code"] = code
    shown = form.submit()
    rating = shown.forms[len(shown.forms) - 1]
    rating["rating"] = "dissatisfied"
    rating["comment"] = case.texts["feedback"][:1000]
    rating.submit()
    return case_id, code


def post_open311(testapp: webtest.TestApp, headers: dict[str, str], case: PlantedCase) -> dict[str, Any]:
    surname, given = case.reporter["name"][:1], case.reporter["name"][1:]
    return testapp.post(f"{OPEN311}/requests.json", {
        "api_key": headers["Authorization"].removeprefix("Bearer "), "service_code": ITEM,
        "lat": str(LAT), "long": str(LON), "description": case.texts["description"],
        "address_string": case.texts["address"][:300], "last_name": surname, "first_name": given,
        "phone": case.reporter["phone"], "email": case.reporter["email"], "account_id": case.reporter["account_id"],
        "attribute[LANDMARK]": case.texts["verify"][:100], "attribute[ASSET_ID]": case.texts["close"][:60],
    }, status=200).json[0]


def through_importer(testapp: webtest.TestApp, headers: dict[str, str], case: PlantedCase, session: Session,
                     tmp: Path) -> tuple[int, str | None]:
    """The path of ``portal import-cases``: a JSON Lines file read and written by its importer."""
    from sqlalchemy import select

    from portal.cases.importer import BulkImporter, ImportStats, read_rows
    from portal.cases.models import Case
    from portal.cases.places import Places

    data = record(case, now_china() - dt.timedelta(hours=6))
    path = tmp / f"{data['external_id']}.jsonl"
    path.write_text(json.dumps(data, ensure_ascii=False) + "\n", encoding="utf-8")
    stats = ImportStats()
    BulkImporter(Places.of(session), source="import").import_batch(session, list(read_rows(path)), stats)
    assert stats.created == 1, stats.errors
    session.flush()
    return session.scalars(select(Case.id).where(Case.external_id == data["external_id"])).one(), None


DOORS: dict[str, Callable[[webtest.TestApp, dict[str, str], PlantedCase, Session, Path], tuple[int, str | None]]] = {
    "api": through_api, "open311": through_open311, "import": through_importer,
}


# ----------------------------------------------------------------------------- every public surface


def public_surfaces(testapp: webtest.TestApp, case_id: int, code: str | None,
                    planted: list[Planted]) -> Iterator[tuple[str, str]]:
    detail = testapp.get(f"/api/v1/cases/{case_id}").json
    assert detail["id"] == case_id
    grid = detail["grid"]["code"]
    yield "api detail", json_text(testapp.get(f"/api/v1/cases/{case_id}"))
    yield "api list", json_text(testapp.get("/api/v1/cases", {"grid": grid, "page_size": 100}))
    yield "html detail", testapp.get(f"/cases/{case_id}").text
    yield "html list", testapp.get("/cases", {"grid": grid}).text
    yield "html home", testapp.get("/").text
    for fmt in ("json", "xml"):
        yield f"open311 request {fmt}", testapp.get(f"{OPEN311}/requests/{case_id}.{fmt}",
                                                    {"extensions": "true"}).text
        yield f"open311 requests {fmt}", testapp.get(f"{OPEN311}/requests.{fmt}",
                                                     {"extensions": "true", "service_request_id": str(case_id)}).text
    yield "open311 request json (decoded)", json_text(testapp.get(f"{OPEN311}/requests/{case_id}.json",
                                                                  {"extensions": "true"}))
    yield "opendata cases.csv", testapp.get("/opendata/cases.csv").text
    yield "opendata cases.jsonl", testapp.get("/opendata/cases.jsonl").text
    yield "html bulletins", testapp.get("/bulletins").text
    if code is not None:
        page = testapp.get("/track")
        form = page.forms[len(page.forms) - 1]
        form["tracking_code"] = code
        yield "html track", form.submit().text
    # Search for what was planted: the hits may not show it. (The query itself is echoed back to
    # whoever typed it, which discloses nothing: it is taken out before the check.)
    for item in planted[:3]:
        query = item.forms[0][:20]
        page = html.unescape(testapp.get("/search", {"q": query}).text)
        yield f"html search {query}", page.replace(query, "")
        hits = testapp.get("/api/v1/search", {"q": query}).json["hits"]
        yield f"api search {query}", json.dumps(hits, ensure_ascii=False)


@pytest.fixture
def dbsession(catalogue_session: Session) -> Session:
    return catalogue_session


@pytest.fixture
def ingest_headers(make_api_key: Callable[..., str], catalogue_connection: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_api_key('dispatcher')}"}


@settings(settings.get_profile(PROFILE), max_examples=EXAMPLES)
@given(case=planted_cases())
def test_planted_personal_data_reaches_no_public_surface(testapp: webtest.TestApp, dbsession: Session,
                                                          ingest_headers: dict[str, str],
                                                          tmp_path: Path, case: PlantedCase) -> None:
    case_id, code = DOORS[case.door](testapp, ingest_headers, case, dbsession, tmp_path)
    seen = 0
    for surface, body in public_surfaces(testapp, case_id, code, case.planted):
        found = leaks(body, case.planted)
        assert not found, f"{case.door} case {case_id}: {', '.join(found)} on {surface}"
        seen += 1
    assert seen >= 14


def test_the_leak_check_sees_every_disguise() -> None:
    """The check itself: each disguise the property test plants is seen when it is shown."""
    planted = [Planted("mobile", "138\u200b1234\u200d5678", ("13812345678",)),
               Planted("landline", "\u202e0571-86900001\u202c", ("057186900001",)),
               Planted("id_number", "33010619900101123x", ("33010619900101123X",)),
               Planted("plate", "浙A·D12345", ("浙AD12345",)),
               Planted("email", "zhang3(at)example.cn", ("zhang3",)),
               Planted("name", "我叫禤俊", ("禤俊",))]
    bodies = ["电话 １３８ 1234-5678", "&#x202e;0571 8690 0001", "33010619900101123x", "浙A D12345",
              "ZHANG3＠example.cn", "联系人禤&#20426;"]
    for item, body in zip(planted, bodies, strict=True):
        assert leaks(body, [item]), (item, body)
    assert not leaks("已处理＊＊＊，电话＊＊＊。", planted)


@pytest.mark.parametrize(("text", "name"), [
    ("（本人乜琳辉）", "乜琳辉"),          # a rare surname the HMM glued into one word
    ("（我叫禤欣晨）", "禤欣晨"),          # a rare surname jieba left in single characters
    ("请联系邻居仉洋洋，谢谢", "仉洋洋"),   # a rare surname before a dictionary word
    ("赵六和张三在此占道", "张三"),        # two names glued over 和 (赵六和张|三)
    ("李四和张三在此占道", "张三"),        # a name after 和 and another name, cut apart (李四|和|张|三)
    ("车牌联系人丁博勇的车辆", "丁博勇"),  # the surname glued to the introducer (联系|人丁|博勇)
])
def test_names_the_property_test_found_are_scrubbed(text: str, name: str) -> None:
    from portal.cases.privacy import scrub

    assert name not in scrub(text)
