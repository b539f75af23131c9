"""Marshmallow building blocks shared by the domain schemas."""

from datetime import UTC
from decimal import Decimal

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

    def _validate(self, value):
        # A blank input becomes None; validators such as Length cannot take None.
        if value is not None:
            super()._validate(value)


class Email(fields.Email):
    """An email address, lowercased."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip().lower()


class AwareDateTime(fields.AwareDateTime):
    """ISO 8601 with an offset on output; inputs without one are read as UTC."""

    def __init__(self, **kwargs):
        kwargs.setdefault("default_timezone", UTC)
        super().__init__(**kwargs)


class DecimalNumber(fields.Decimal):
    """A decimal read from and written as a JSON number (never a string, never NaN)."""

    def __init__(self, *, places: int = 2, minimum=None, maximum=None, step=None, **kwargs):
        super().__init__(allow_nan=False, **kwargs)
        self.max_places, self.minimum, self.maximum, self.step = places, minimum, maximum, step

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else float(value)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValidationError("Not a valid number.")
        number = super()._deserialize(value, attr, data, **kwargs)
        if self.minimum is not None and number < self.minimum:
            raise ValidationError(f"Must be at least {self.minimum}.")
        if self.maximum is not None and number > self.maximum:
            raise ValidationError(f"Must be at most {self.maximum}.")
        if number != number.quantize(Decimal(1).scaleb(-self.max_places)):
            raise ValidationError(f"Use at most {self.max_places} decimal places.")
        if self.step is not None and number % self.step != 0:
            raise ValidationError(f"Must be a multiple of {self.step}.")
        return number


def Hours(**kwargs):  # noqa: N802 - a field factory reads like a field class
    """Credit hours (学时): positive multiples of 0.5."""
    kwargs.setdefault("minimum", Decimal("0.5"))
    return DecimalNumber(places=1, maximum=Decimal("9999.5"), step=Decimal("0.5"), **kwargs)


def Points(**kwargs):  # noqa: N802
    """Rubric or quiz points: non-negative, at most two decimals."""
    kwargs.setdefault("minimum", Decimal("0"))
    return DecimalNumber(places=2, maximum=Decimal("100000"), **kwargs)
