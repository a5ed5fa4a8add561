"""Boundary schemas of the bulletins domain."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates

from portal.bulletins.periods import Period
from portal.errors import InvalidInput
from portal.validation import QuerySchema


def _check_period(value: str) -> None:
    try:
        Period.parse(value)
    except InvalidInput as exc:
        raise ValidationError(exc.message) from None


class GenerateForm(Schema):
    class Meta:
        unknown = EXCLUDE  # the CSRF token

    period = fields.String(required=True, validate=validate.Length(min=4, max=8))
    correction_note = fields.String(load_default="", validate=validate.Length(max=1000))
    publish = fields.Boolean(load_default=False)

    @validates("period")
    def _period(self, value: str, **_: object) -> None:
        _check_period(value)


class PublishForm(Schema):
    class Meta:
        unknown = EXCLUDE

    comment = fields.String(load_default="", validate=validate.Length(max=500))


class RevisionQuery(QuerySchema):
    revision = fields.Integer(load_default=None, validate=validate.Range(1, 999))


class BulletinSummaryOut(Schema):
    period = fields.String()
    period_kind = fields.String()
    period_label = fields.String()
    issue = fields.String()
    revision = fields.Integer()
    state = fields.String(metadata={"description": "published 已发布，或 superseded 已被更正版取代"})
    state_label = fields.String()
    correction_note = fields.String(metadata={"description": "更正说明（更正版）"})
    corrects_revision = fields.Integer(allow_none=True)
    published_at = fields.DateTime()
    html_url = fields.String()
    pdf_url = fields.String()
    csv_url = fields.String()
    json_url = fields.String()
    sha256 = fields.Dict(metadata={"description": "{'json': json_url 内容的 sha256, 'pdf': PDF 的 sha256}"})
    watermark = fields.Dict()


class BulletinListOut(Schema):
    items = fields.List(fields.Nested(BulletinSummaryOut))


class BulletinOut(BulletinSummaryOut):
    revisions = fields.List(fields.Dict())
    data = fields.Dict(metadata={"description": "发布时冻结的指标数据（与 json_url 相同）"})
