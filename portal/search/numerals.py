"""Chinese numerals as used in article numbers: 二十三, 一百零五, 一千零一, 两百, 廿三, 63."""

from __future__ import annotations

_DIGITS = {"零": 0, "〇": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "两": 2, "三": 3, "叁": 3, "四": 4,
           "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8, "捌": 8, "九": 9,
           "玖": 9}
_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_BIG = {"万": 10_000, "萬": 10_000, "亿": 100_000_000}
_SPECIAL = {"廿": 20, "卅": 30}

NUMERAL_CHARS = "".join([*_DIGITS, *_UNITS, *_BIG, *_SPECIAL])


def chinese_to_int(text: str) -> int | None:
    """Parse a Chinese (or Arabic, or full-width) numeral; None when it is not one."""
    text = (text or "").strip()
    if not text:
        return None
    if text.isdigit():
        try:
            return int(text)
        except ValueError:  # exotic unicode digits
            return None
    if any(ch not in NUMERAL_CHARS for ch in text):
        return None
    # Pure digit strings such as 二〇一九 read digit by digit.
    if all(ch in _DIGITS for ch in text) and len(text) > 1:
        return int("".join(str(_DIGITS[ch]) for ch in text))
    total = 0  # finished 万/亿 groups
    section = 0  # current group below 万
    digit = None
    for ch in text:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        elif ch in _SPECIAL:
            section += _SPECIAL[ch]
            digit = None
        elif ch in _UNITS:
            section += (1 if digit is None else digit) * _UNITS[ch]
            digit = None
        else:  # 万 / 亿
            section += digit or 0
            total = (total + section) * _BIG[ch] if _BIG[ch] > 10_000 else total + section * _BIG[ch]
            section, digit = 0, None
    return total + section + (digit or 0)


def int_to_chinese(number: int) -> str:
    """23 -> 二十三, 105 -> 一百零五, 10 -> 十 (the form used in article labels)."""
    if number < 0:
        raise ValueError("negative")
    digits = "零一二三四五六七八九"
    if number < 10:
        return digits[number]
    if number < 20:
        return "十" + (digits[number - 10] if number > 10 else "")
    parts: list[str] = []
    units = [(1000, "千"), (100, "百"), (10, "十")]
    rest = number
    if rest >= 10_000:
        parts.append(int_to_chinese(rest // 10_000) + "万")
        rest %= 10_000
        if 0 < rest < 1000:
            parts.append("零")
    zero_pending = False
    for value, unit in units:
        d, rest = divmod(rest, value)
        if d:
            if zero_pending:
                parts.append("零")
                zero_pending = False
            parts.append(digits[d] + unit)
        elif parts and rest:
            zero_pending = True
    if rest:
        if zero_pending:
            parts.append("零")
        parts.append(digits[rest])
    return "".join(parts)
