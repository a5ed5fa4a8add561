"""Chinese wording for marshmallow's built-in validation messages.

Every message a user sees is Chinese, and most field errors come from marshmallow itself
("Missing data for required field."). marshmallow documents changing its default messages
globally through the classes' ``default_error_messages`` (and the validators' message
attributes); fields and validators copy them when they are created, so this runs when the
``portal`` package is first imported, before any schema is defined (``portal/__init__.py``).
Messages a schema sets itself (``error=``, ``error_messages=``) are untouched.

The API's error envelope keeps an English ``message_en`` for developers (:mod:`portal.errors`).
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

FIELD_MESSAGES: dict[type[fields.Field], dict[str, str]] = {
    fields.Field: {
        "required": "必填字段，不能缺少。",
        "null": "不能为空（null）。",
        "validator_failed": "取值无效。",
    },
    fields.String: {"invalid": "须为文本。", "invalid_utf8": "不是有效的 UTF-8 文本。"},
    fields.Number: {"invalid": "须为数字。", "too_large": "数字过大。"},
    fields.Integer: {"invalid": "须为整数。"},
    fields.Float: {"special": "不接受 NaN 或无穷大。"},
    fields.Decimal: {"special": "不接受 NaN 或无穷大。"},
    fields.Boolean: {"invalid": "须为布尔值（true 或 false）。"},
    # the common base of DateTime, Date and Time (private in marshmallow, hence looked up)
    getattr(fields, "_TemporalField", fields.DateTime): {
        "invalid": "不是有效的日期或时间。",
        "invalid_awareness": "日期时间的时区不符合要求。",
        "format": "“{input}”无法格式化为日期或时间。",
    },
    fields.DateTime: {
        "invalid": "不是有效的日期时间（ISO 8601，如 2026-12-01T08:30:00+08:00）。",
        "format": "“{input}”无法格式化为日期时间。",
    },
    fields.AwareDateTime: {"invalid_awareness": "日期时间须带时区（如 +08:00）。"},
    fields.NaiveDateTime: {"invalid_awareness": "日期时间不能带时区。"},
    fields.Date: {"invalid": "不是有效的日期（YYYY-MM-DD）。", "format": "“{input}”无法格式化为日期。"},
    fields.Time: {"invalid": "不是有效的时间（HH:MM[:SS]）。", "format": "“{input}”无法格式化为时间。"},
    fields.TimeDelta: {"invalid": "不是有效的时长。", "format": "{input!r} 无法格式化为时长。"},
    fields.List: {"invalid": "须为列表。"},
    fields.Tuple: {"invalid": "须为数组（元组）。"},
    fields.Mapping: {"invalid": "须为对象（键值映射）。"},
    fields.Nested: {"type": "类型无效，须为对象。"},
    fields.Url: {"invalid": "不是有效的网址。"},
    fields.Email: {"invalid": "不是有效的电子邮箱地址。"},
    fields.UUID: {"invalid_uuid": "不是有效的 UUID。"},
    fields.IP: {"invalid_ip": "不是有效的 IP 地址。"},
    fields.IPv4: {"invalid_ip": "不是有效的 IPv4 地址。"},
    fields.IPv6: {"invalid_ip": "不是有效的 IPv6 地址。"},
    fields.IPInterface: {"invalid_ip_interface": "不是有效的 IP 网络接口。"},
    fields.IPv4Interface: {"invalid_ip_interface": "不是有效的 IPv4 网络接口。"},
    fields.IPv6Interface: {"invalid_ip_interface": "不是有效的 IPv6 网络接口。"},
    fields.Enum: {"unknown": "须为以下之一：{choices}。"},
}

VALIDATOR_MESSAGES: dict[type, dict[str, str]] = {
    validate.Length: {
        "message_min": "长度不能少于 {min}。",
        "message_max": "长度不能超过 {max}。",
        "message_all": "长度须在 {min} 到 {max} 之间。",
        "message_equal": "长度须为 {equal}。",
    },
    validate.Range: {
        # Range fills in the operator words first, then the bounds ({{min}} survives the first format)
        "message_min": "须{min_op} {{min}}。",
        "message_max": "须{max_op} {{max}}。",
        "message_all": "须{min_op} {{min}}且{max_op} {{max}}。",
        "message_gte": "大于或等于",
        "message_gt": "大于",
        "message_lte": "小于或等于",
        "message_lt": "小于",
    },
    validate.OneOf: {"default_message": "须为以下之一：{choices}。"},
    validate.NoneOf: {"default_message": "取值无效。"},
    validate.Equal: {"default_message": "须等于 {other}。"},
    validate.Regexp: {"default_message": "格式不正确。"},
    validate.Predicate: {"default_message": "取值无效。"},
    validate.URL: {"default_message": "不是有效的网址。"},
    validate.Email: {"default_message": "不是有效的电子邮箱地址。"},
    validate.ContainsOnly: {"default_message": "所选的值中有不在 {choices} 之内的。"},
    validate.ContainsNoneOf: {"default_message": "所选的值中有属于 {values} 的。"},
}

SCHEMA_MESSAGES = {"type": "输入类型无效，须为 JSON 对象。", "unknown": "未知字段。"}


def use_chinese_messages() -> None:
    """Replace marshmallow's English defaults (idempotent)."""
    for field_class, messages in FIELD_MESSAGES.items():
        # a class's own dict only: subclasses that define none inherit through the MRO walk
        own = dict(field_class.__dict__.get("default_error_messages", {}))
        own.update(messages)
        field_class.default_error_messages = own
    for validator_class, messages in VALIDATOR_MESSAGES.items():
        for name, text in messages.items():
            setattr(validator_class, name, text)
    Schema.error_messages = {**Schema.error_messages, **SCHEMA_MESSAGES}
