"""Vocabularies of regulation metadata, and inference of what a text does not state.

Level (效力级别) and region are inferred from the issuing authority, the title
and the document number when neither a manifest nor a command option gives
them.  The rules follow the Legislation Law's hierarchy: the NPC and its
Standing Committee make 法律, the State Council 行政法规 (by 国务院令), ministries
部门规章, local people's congresses 地方性法规, local governments 地方政府规章 (by
政府令); anything else a government issues is a 规范性文件.
"""

from __future__ import annotations

import datetime
import re
from enum import StrEnum

__all__ = [
    "LEVELS",
    "NATIONAL",
    "STATUSES",
    "Level",
    "Status",
    "authority_from_history",
    "effective_status",
    "infer_level",
    "infer_region",
    "normalize_status",
]


class Level(StrEnum):
    CONSTITUTION = "宪法"
    LAW = "法律"
    ADMINISTRATIVE_REGULATION = "行政法规"
    DEPARTMENTAL_RULE = "部门规章"
    LOCAL_REGULATION = "地方性法规"
    LOCAL_GOVERNMENT_RULE = "地方政府规章"
    NORMATIVE_DOCUMENT = "规范性文件"


class Status(StrEnum):
    IN_FORCE = "现行有效"
    AMENDED = "已修改"
    REPEALED = "已废止"
    NOT_YET_EFFECTIVE = "尚未生效"


#: Highest authority first; the order of browse pages and facets.
LEVELS: tuple[str, ...] = tuple(level.value for level in Level)
STATUSES: tuple[str, ...] = tuple(status.value for status in Status)
NATIONAL = "全国"

_STATUS_ALIASES = {
    "现行有效": Status.IN_FORCE, "有效": Status.IN_FORCE, "现行": Status.IN_FORCE,
    "已修改": Status.AMENDED, "已被修改": Status.AMENDED, "已修正": Status.AMENDED,
    "已废止": Status.REPEALED, "失效": Status.REPEALED, "已失效": Status.REPEALED, "废止": Status.REPEALED,
    "尚未生效": Status.NOT_YET_EFFECTIVE, "未生效": Status.NOT_YET_EFFECTIVE,
}


def normalize_status(value: str | None) -> str | None:
    """Map the many spellings of a status (已被修改, 失效 …) to the portal's four."""
    if not value:
        return None
    status = _STATUS_ALIASES.get(re.sub(r"\s+", "", value))
    return status.value if status else None


def effective_status(
    declared: str | None,
    effective_date: datetime.date | None,
    repealed_date: datetime.date | None,
    on: datetime.date,
) -> str:
    """The status on a date: repealed after its repeal, not yet effective before its start."""
    if repealed_date and on >= repealed_date:
        return Status.REPEALED.value
    if effective_date and on < effective_date:
        return Status.NOT_YET_EFFECTIVE.value
    if declared == Status.REPEALED.value and not repealed_date:
        return Status.REPEALED.value
    if declared == Status.NOT_YET_EFFECTIVE.value and effective_date is None:
        return Status.NOT_YET_EFFECTIVE.value
    if declared == Status.AMENDED.value:
        return Status.AMENDED.value
    return Status.IN_FORCE.value


_PLACE = re.compile(
    r"^(?P<place>[\u4e00-\u9fa5]{1,12}?(?:特别行政区|维吾尔自治区|壮族自治区|回族自治区|自治区|自治州|省|市|盟|地区|县|区))"
    r"(?=人民代表大会|人民政府|人大|政府|[\u4e00-\u9fa5]{0,8}(?:委员会|局|厅|办公室))"
)
_APPROVED_BY = re.compile(r"[（(](?P<place>[\u4e00-\u9fa5]{2,10}?(?:省|自治区))[^（）()]*批准[)）]")
_NATIONAL_BODIES = ("全国人民代表大会", "国务院", "中华人民共和国", "中央", "最高人民")


def infer_region(title: str | None, authority: str | None) -> str:
    """全国 for national bodies, else the place of the issuing body.

    A city regulation approved by its province is placed under the province
    (浙江省杭州市), so a browse by 浙江省 finds it too.
    """
    authority = (authority or "").strip()
    title = (title or "").strip()
    if authority.startswith(_NATIONAL_BODIES) or title.startswith("中华人民共和国"):
        return NATIONAL
    for text in (authority, title):
        match = _PLACE.match(text)
        if match:
            place = match.group("place")
            approved = _APPROVED_BY.search(authority)
            if approved and not place.startswith(approved.group("place")):
                return approved.group("place") + place
            return place
    match = re.match(r"^(?P<place>[\u4e00-\u9fa5]{2,8}?(?:省|自治区|市))", title)
    if match and not authority:
        return match.group("place")
    if authority and re.search(r"部|委员会|总局|署|局$", authority) and not _PLACE.match(authority):
        # A ministry without a place in its name is national.
        return NATIONAL
    return NATIONAL if not authority else ""


def infer_level(
    title: str | None,
    authority: str | None = None,
    document_number: str | None = None,
    doc_type: str | None = None,
) -> str | None:
    """Guess the level; None when nothing points anywhere."""
    title = (title or "").strip()
    authority = (authority or "").strip()
    number = (document_number or "").strip()
    if title.endswith("宪法") or doc_type == "宪法":
        return Level.CONSTITUTION.value
    if authority.startswith("全国人民代表大会") or (
        title.startswith("中华人民共和国") and title.endswith("法")
    ):
        return Level.LAW.value
    if authority == "国务院" or "国务院令" in number:
        if re.search(r"[〔\[［]\d{4}[〕\]］]", number):
            return Level.NORMATIVE_DOCUMENT.value
        return Level.ADMINISTRATIVE_REGULATION.value
    if "人民代表大会" in authority or "人大常委会" in authority:
        return Level.LOCAL_REGULATION.value
    if "人民政府" in authority or "政府令" in number:
        if "令" in number:
            return Level.LOCAL_GOVERNMENT_RULE.value
        if number:
            return Level.NORMATIVE_DOCUMENT.value
        return Level.LOCAL_GOVERNMENT_RULE.value if title.endswith(("办法", "规定")) else None
    if authority and re.search(r"部|委员会|总局|署|局", authority):
        return Level.DEPARTMENTAL_RULE.value if "令" in number or not number else Level.NORMATIVE_DOCUMENT.value
    if title.startswith("国务院") or (title.startswith("中华人民共和国") and title.endswith("条例")):
        return Level.ADMINISTRATIVE_REGULATION.value
    if _TITLE_PLACE.match(title) and title.endswith("条例"):
        # Local governments make 办法/规定; 条例 are the people's congresses'.
        return Level.LOCAL_REGULATION.value
    return None


_TITLE_PLACE = re.compile(r"^[\u4e00-\u9fa5]{1,10}?(?:省|自治区|市|自治州|县)")
_SESSION = re.compile(r"第[一二三四五六七八九十百零〇\d]+届")
_BODY = re.compile(
    r"^(?P<body>[\u4e00-\u9fa5（）()]*?(?:人民代表大会常务委员会|人民代表大会|人民政府|国务院))"
)


def authority_from_history(descriptions: list[str]) -> str | None:
    """The body that adopted or promulgated a text, read from its history lines.

    ``青石市第九届人民代表大会常务委员会第七次会议通过`` → 青石市人民代表大会常务委员会;
    ``中华人民共和国国务院令第198号发布`` → 国务院.
    """
    for description in descriptions:
        text = _SESSION.sub("", description.strip())
        text = text.removeprefix("中华人民共和国")
        match = _BODY.match(text)
        if match and match.group("body"):
            return match.group("body")
    return None
