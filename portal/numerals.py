"""Chinese numerals as they appear in statute labels (第一百零五条), dates and queries.

One implementation for the whole portal: the statute parser, citations, the search's query
planner and the catalogue all read numbers through it.

Parsing accepts every form a pasted law text uses: ordinary digits (一二三…, 〇/零, 两),
financial capitals (壹贰叁…), the units 十百千万亿 in any size, Arabic and
full-width digits, and digit-by-digit strings such as 二〇二一.  Formatting
writes the style of article labels: 十 (not 一十) for 10–19, 一百一十, 一百零五,
and 二 rather than 两.
"""

from __future__ import annotations

import re

__all__ = [
    "CHINESE_DIGITS",
    "NUMERAL_CHARS",
    "article_label",
    "chinese_to_int",
    "format_chinese_number",
    "parse_article_label",
    "parse_chinese_number",
]

CHINESE_DIGITS: dict[str, int] = {
    "〇": 0, "零": 0, "○": 0, "Ｏ": 0,
    "一": 1, "壹": 1, "幺": 1,
    "二": 2, "两": 2, "兩": 2, "贰": 2, "貳": 2,
    "三": 3, "叁": 3, "參": 3,
    "四": 4, "肆": 4,
    "五": 5, "伍": 5,
    "六": 6, "陆": 6, "陸": 6,
    "七": 7, "柒": 7,
    "八": 8, "捌": 8,
    "九": 9, "玖": 9,
}
_SMALL_UNITS: dict[str, int] = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_BIG_UNITS: dict[str, int] = {"万": 10**4, "萬": 10**4, "亿": 10**8, "億": 10**8}

_FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")

# Colloquial contractions people type in queries (第廿三条): read as their full forms.
_CONTRACTIONS = str.maketrans({"廿": "二十", "卅": "三十"})

#: Every character that may occur in a numeral; handy for building regexes.
NUMERAL_CHARS = (
    "".join(CHINESE_DIGITS) + "".join(_SMALL_UNITS) + "".join(_BIG_UNITS) + "廿卅"
    + "0123456789０１２３４５６７８９"
)

_WHITESPACE = re.compile(r"[\s\u3000]+")


def _digit_value(ch: str) -> int | None:
    if ch in CHINESE_DIGITS:
        return CHINESE_DIGITS[ch]
    if "0" <= ch <= "9":
        return ord(ch) - 48
    return None


def parse_chinese_number(text: str) -> int:
    """Return the non-negative integer written in ``text``.

    >>> parse_chinese_number("一百零五"), parse_chinese_number("两千零三")
    (105, 2003)

    Raises ``ValueError`` for an empty string or anything that is not a
    well-formed numeral (stray characters, units out of order, ``十十``).
    """
    if not isinstance(text, str):
        raise ValueError(f"not a numeral: {text!r}")  # ValueError: one error type for callers
    s = _WHITESPACE.sub("", text).translate(_FULLWIDTH).translate(_CONTRACTIONS)
    if not s:
        raise ValueError("empty numeral")
    if s.isascii() and s.isdigit():
        return int(s)
    if all(_digit_value(ch) is not None for ch in s):
        # Digit-by-digit form, as in years: 二〇二一, 一九九六.
        return int("".join(str(_digit_value(ch)) for ch in s))
    for ch in s:
        if _digit_value(ch) is None and ch not in _SMALL_UNITS and ch not in _BIG_UNITS:
            raise ValueError(f"not a numeral: {text!r} (unexpected {ch!r})")
    return _parse_with_big_units(s, text)


def _parse_with_big_units(s: str, original: str) -> int:
    # Split at the largest big unit present: 一万亿 = (一万) * 10^8,
    # 一亿二千万 = 一 * 10^8 + 二千万.
    for unit_chars, value in (("亿億", 10**8), ("万萬", 10**4)):
        positions = [i for i, ch in enumerate(s) if ch in unit_chars]
        if not positions:
            continue
        pos = positions[-1] if value == 10**8 else positions[0]
        if value == 10**4 and len(positions) > 1:
            raise ValueError(f"not a numeral: {original!r} (repeated 万)")
        left, right = s[:pos], s[pos + 1:]
        if not left:
            raise ValueError(f"not a numeral: {original!r} (unit without digit)")
        high = _parse_with_big_units(left, original)
        if high == 0:
            raise ValueError(f"not a numeral: {original!r}")
        low = _parse_low_part(right, value, original)
        return high * value + low
    return _parse_small(s, original)


def _parse_low_part(right: str, unit: int, original: str) -> int:
    """The part after 万/亿; a bare trailing digit is colloquial (两万五 = 25000)."""
    if not right:
        return 0
    digit = _digit_value(right) if len(right) == 1 else None
    if digit is not None and right not in ("零", "〇"):
        return digit * unit // 10
    low = _parse_with_big_units(right, original)
    if low >= unit:
        raise ValueError(f"not a numeral: {original!r} (part after unit too large)")
    # 一万一千 is fine; 一万一百 would need a 零 (一万零一百) but is accepted too.
    return low


def _parse_small(s: str, original: str) -> int:
    """A numeral below 10000 written with 十百千 (and any 零 separators)."""
    if all(_digit_value(ch) is not None for ch in s):
        # A plain digit run in front of a big unit: 12万, 三〇万.
        return int("".join(str(_digit_value(ch)) for ch in s))
    total = 0
    pending: int | None = None
    last_unit = 10**4
    last_was_zero = False
    for ch in s:
        digit = _digit_value(ch)
        if digit is not None:
            if digit == 0:
                if pending not in (None, 0):
                    raise ValueError(f"not a numeral: {original!r}")
                last_was_zero = True
                pending = None
                continue
            if pending is not None:
                raise ValueError(f"not a numeral: {original!r} (two digits in a row)")
            pending = digit
            continue
        unit = _SMALL_UNITS[ch]
        if unit >= last_unit:
            raise ValueError(f"not a numeral: {original!r} (units out of order)")
        if pending is None:
            # Only 十 may drop its 一: 十五, 一百十, 一千零十.
            if unit != 10:
                raise ValueError(f"not a numeral: {original!r} (unit without digit)")
            pending = 1
        total += pending * unit
        pending = None
        last_unit = unit
        last_was_zero = False
    if pending is not None:
        if last_unit < 10**4 and not last_was_zero and last_unit > 10:
            # Colloquial omission of the lower unit: 一百一 = 110, 三千五 = 3500.
            total += pending * (last_unit // 10)
        else:
            total += pending
    return total


_DIGIT_CHARS = "零一二三四五六七八九"


def format_chinese_number(n: int) -> str:
    """Write ``n`` the way statute labels do: 10 → 十, 110 → 一百一十, 10001 → 一万零一."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise ValueError(f"not an integer: {n!r}")  # ValueError: one error type for callers
    if n < 0:
        raise ValueError(f"negative number: {n}")
    if n == 0:
        return "零"
    groups: list[int] = []
    while n:
        groups.append(n % 10000)
        n //= 10000
    big_units = ["", "万", "亿", "万亿"]
    if len(groups) > len(big_units):
        raise ValueError("number too large")
    parts: list[str] = []
    need_zero = False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            need_zero = bool(parts)
            continue
        if parts and (need_zero or group < 1000):
            parts.append("零")
        parts.append(_format_group(group) + big_units[index])
        need_zero = False
    text = "".join(parts)
    if text.startswith("一十"):
        text = text[1:]
    return text


def _format_group(group: int) -> str:
    out: list[str] = []
    zero_pending = False
    for unit_value, unit_char in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = group // unit_value % 10
        if digit == 0:
            if out:
                zero_pending = True
            continue
        if zero_pending:
            out.append("零")
            zero_pending = False
        out.append(_DIGIT_CHARS[digit] + unit_char)
    return "".join(out)


def article_slug(number: int, suffix: int = 0) -> str:
    """The URL form of an article number: 23, or 23-1 for 第二十三条之一."""
    return f"{number}-{suffix}" if suffix else str(number)


def article_label(number: int, suffix: int = 0) -> str:
    """第二十三条, or 第二十三条之一 for an article inserted after it."""
    if number < 1:
        raise ValueError(f"article number must be positive: {number}")
    label = f"第{format_chinese_number(number)}条"
    if suffix:
        if suffix < 0:
            raise ValueError(f"negative article suffix: {suffix}")
        label += f"之{format_chinese_number(suffix)}"
    return label


_LABEL = re.compile(
    rf"^\s*第\s*(?P<number>[{NUMERAL_CHARS}]+)\s*条(?:\s*之\s*(?P<suffix>[{NUMERAL_CHARS}]+))?\s*$"
)


def parse_article_label(text: str) -> tuple[int, int]:
    """Parse 第二十三条之一 → (23, 1); 第63条 → (63, 0).  ``ValueError`` otherwise."""
    match = _LABEL.match(text)
    if not match:
        raise ValueError(f"not an article label: {text!r}")
    number = parse_chinese_number(match.group("number"))
    suffix = parse_chinese_number(match.group("suffix")) if match.group("suffix") else 0
    if number < 1:
        raise ValueError(f"article number must be positive: {text!r}")
    return number, suffix


def chinese_to_int(text: str | None) -> int | None:
    """Like :func:`parse_chinese_number`, but None for anything that is not a numeral
    (the query planner probes words that may or may not be numbers)."""
    try:
        return parse_chinese_number(text or "")
    except ValueError:
        return None
