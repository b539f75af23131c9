"""Schemas of the audit log API."""

from marshmallow import Schema, fields, validate

from lms.core.schemas import AwareDateTime, StrictSchema


class AuditEventArgs(StrictSchema):
    entity_type = fields.String(validate=validate.Length(min=1, max=40))
    entity_id = fields.String(validate=validate.Length(min=1, max=64))
    action = fields.String(validate=validate.Length(min=1, max=64))
    actor_id = fields.Integer()


class AuditEventOut(Schema):
    id = fields.Integer()
    at = AwareDateTime()
    actor_id = fields.Integer(allow_none=True)
    action = fields.String()
    entity_type = fields.String()
    entity_id = fields.String(allow_none=True)
    data = fields.Dict()
    prev_hash = fields.String()
    hash = fields.String()
