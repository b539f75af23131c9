"""Marshmallow building blocks shared by the domain schemas."""

from marshmallow import Schema, ValidationError, fields, pre_load


class StrictSchema(Schema):
    """Input schema: unknown fields are refused (422), and strings are trimmed."""

    @pre_load
    def _strip_strings(self, data, **kwargs):
        if isinstance(data, dict):
            return {k: v.strip() if isinstance(v, str) else v for k, v in data.items()}
        return data


class Text(fields.String):
    """A trimmed string. Blank means None where None is allowed, and is refused elsewhere."""

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs).strip()
        if result:
            return result
        if self.allow_none:
            return None
        raise ValidationError("This field must not be blank.")


class Email(fields.Email):
    """An email address, lowercased."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip().lower()


class AwareDateTime(fields.AwareDateTime):
    """ISO 8601 with an offset on output; inputs without one are read as UTC."""

    def __init__(self, **kwargs):
        kwargs.setdefault("default_timezone", __import__("datetime").UTC)
        super().__init__(**kwargs)
