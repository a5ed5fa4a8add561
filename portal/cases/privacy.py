"""Privacy scrubbing for everything the public may read about a case.

Public disclosure shows what happened, where (at grid level) and who handled it, never who
reported it. Reporter fields are simply never output; free text (the description, handling notes,
bounce reasons) is passed through :func:`scrub`, which replaces

- mobile numbers (``13812345678``, ``138-1234-5678``, ``+86 138 1234 5678``),
- landlines (``0571-86900001``, ``(0571)86900001``, ``400-123-4567``; bare 7–8 digit local
  numbers only right after a word such as 电话 / 手机 / 联系),
- resident ID numbers (18 characters with a date of birth, and the old 15-digit form),
- vehicle plates (``浙A12345``, ``沪AD12345``, ``浙A·1234学``),
- e-mail addresses,
- exact addresses below the street (``文三路138号3幢2单元501室`` keeps ``文三路``),
- polite forms of address that carry a surname (``张先生`` → ``市民``),
- personal names (``我叫王小明``, ``李四和王五``: :mod:`portal.cases.names`), never place or agency
  names (``雷锋广场``, ``王家井社区``),
- and any personal strings known for the case (the reporter's own name and address)

by a neutral mark. Invisible format characters (zero-width spaces, direction overrides) are
removed first: ``138\u200b1234\u200b5678`` is a phone number to a reader, so it is one here too.
It is a pure function: same text in, same text out, so it can run at write
time (stored public text makes lists fast) and again in tests over every public surface.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

from portal.cases.names import person_names

MASK = "＊＊＊"
CITIZEN = "市民"

# Separators people type inside numbers: spaces, hyphens (ASCII, full-width, dashes), dots.
_SEP = r"[ \t\u00a0\u3000\-\uff0d\u2010-\u2015.\u00b7]"
_NOT_DIGIT_BEFORE = r"(?<![0-9０-９])"
_NOT_DIGIT_AFTER = r"(?![0-9０-９])"
_D = r"[0-9０-９]"

_MOBILE = re.compile(
    _NOT_DIGIT_BEFORE
    + rf"(?:(?:\+|＋|00)\s?86{_SEP}?)?"
    + rf"1[3-9３-９]{_D}(?:{_SEP}?{_D}){{8}}"
    + _NOT_DIGIT_AFTER
)

_LANDLINE = re.compile(
    _NOT_DIGIT_BEFORE
    + r"(?:"
    # (0571) 86900001, （0571）86900001
    + rf"[(（]0{_D}{{2,3}}[)）]{_SEP}?{_D}{{3,4}}{_SEP}?{_D}{{4}}"
    # 0571-86900001, 010 6512 3456, 057186900001
    + rf"|(?:\+86{_SEP}?)?0{_D}{{2,3}}{_SEP}?{_D}{{3,4}}{_SEP}?{_D}{{4}}"
    # 400 / 800 service numbers
    + rf"|[48]00{_SEP}?{_D}{{3}}{_SEP}?{_D}{{4}}"
    + r")"
    + rf"(?:{_SEP}?(?:转|ext\.?|x){_SEP}?{_D}{{1,6}})?"
    + _NOT_DIGIT_AFTER
)

# A bare local number is only taken for a phone when a word says so.
_KEYWORD_NUMBER = re.compile(
    r"((?:电话|手机|手机号|手机号码|联系方式|联系电话|联系|座机|号码|tel|TEL|Tel|phone|Phone)"
    r"\s*(?:是|为|:|：)?\s*)"
    + rf"({_D}(?:{_SEP}?{_D}){{4,11}})"
    + _NOT_DIGIT_AFTER
)

_BIRTH = r"(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
_ID_18 = re.compile(
    r"(?<![0-9A-Za-z])[1-9]\d{5}" + rf"{_SEP}?" + _BIRTH + rf"{_SEP}?" + r"\d{3}[0-9Xx](?![0-9A-Za-z])"
)
_ID_15 = re.compile(
    r"(?<![0-9A-Za-z])[1-9]\d{7}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}(?![0-9A-Za-z])"
)

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领"
_PLATE = re.compile(
    rf"[{_PROVINCES}]\s?[A-Za-zＡ-Ｚ]{_SEP}?"
    r"[A-Za-z0-9０-９Ａ-Ｚ]{4,6}[挂学警港澳领试超]?"
    r"(?![A-Za-z0-9])"
)

_EMAIL = re.compile(
    r"[A-Za-z0-9._%+\-]+\s?(?:@|＠|[(\[（【]\s?at\s?[)\]）】])\s?[A-Za-z0-9.\-]+\s?(?:\.|[(\[（]\s?dot\s?[)\]）])\s?"
    r"[A-Za-z]{2,}", re.IGNORECASE)

# House numbers and everything below them: 138号, 12-3号, 5弄, 3幢, 2单元, 501室, 5号楼, 12层.
_NUM = r"(?:[0-9０-９]+(?:[\-－之][0-9０-９]+)?|[一二三四五六七八九十百千零〇两]+)"
_ADDRESS_UNIT = rf"{_NUM}\s?(?:号楼|号院|号门|号(?!线)|弄|幢|栋|座|单元|室|户|层|楼(?![道梯下上顶]))"
_ADDRESS = re.compile(rf"(?<![月0-9０-９第]){_ADDRESS_UNIT}(?:\s?{_ADDRESS_UNIT})*(?:[A-Za-z]\d*)?")

_POLITE = re.compile(r"[\u4e00-\u9fff](?:先生|女士|小姐|师傅|阿姨|大爷|大妈|老师|同志)")

# Order matters: IDs before phones (an ID holds a phone-like run of digits), e-mails before plates.
_PATTERNS: tuple[re.Pattern[str], ...] = (_EMAIL, _ID_18, _ID_15, _MOBILE, _LANDLINE, _PLATE)


def _keyword_number(match: re.Match[str]) -> str:
    return match.group(1) + MASK


# Full-width digits and Latin letters are folded to ASCII first, so ``１３８…`` is a mobile too.
_FOLD = {code: code - 0xFEE0 for code in (*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B))}
_FOLD[0xFF20] = ord("@")
_FOLD[0xFF0B] = ord("+")


def scrub(text: str | None, known: Iterable[str | None] = ()) -> str:
    """``text`` with personal data replaced; ``known`` are strings to remove wherever they occur
    (the reporter's name, phone and address for this case)."""
    if not text:
        return ""
    result = _visible(str(text)).translate(_FOLD)
    # Longest first, so "张三丰" is removed before "张三" could leave "丰" behind.
    for value in sorted({v.strip().translate(_FOLD) for v in known if v and len(v.strip()) >= 2},
                        key=len, reverse=True):
        result = result.replace(value, MASK)
    return _scrub_patterns(result)


@functools.lru_cache(maxsize=65536)
def _scrub_patterns(result: str) -> str:
    # Handling notes repeat a lot ("已处置完毕"): a bulk import scrubs each distinct text once.
    for pattern in _PATTERNS:
        result = pattern.sub(MASK, result)
    result = _KEYWORD_NUMBER.sub(_keyword_number, result)
    result = _ADDRESS.sub(MASK, result)
    result = _POLITE.sub(CITIZEN, result)
    result = _mask_names(result)
    # Adjacent marks (a plate next to a phone) read as one.
    return re.sub(rf"(?:{re.escape(MASK)}\s*){{2,}}", MASK, result)


def _visible(text: str) -> str:
    """``text`` without format characters (category Cf: zero-width spaces and joiners, direction
    marks and overrides, the BOM), which hide digits and names from patterns but not from readers."""
    if text.isascii():
        return text
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def _mask_names(text: str) -> str:
    found = list(person_names(text))
    for start, end in reversed(found):
        text = text[:start] + MASK + text[end:]
    return text


def contains_personal_data(text: str | None) -> bool:
    """True when :func:`scrub` would change ``text`` (for checks and tests)."""
    return bool(text) and scrub(text) != text


def mask_phone(phone: str | None) -> str:
    """A phone for staff screens that need to recognise, not read, a number: 138****5678."""
    if not phone:
        return ""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_name(name: str | None) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧***."""
    if not name:
        return ""
    name = name.strip()
    return name[:1] + "*" * max(1, len(name) - 1)
