"""Marshmallow building blocks shared by the domain schemas."""

import re
from collections.abc import Mapping
from datetime import UTC
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import Schema, ValidationError, fields, pre_load, validate

from lms.core.emails import normalize_email

# Every integer column is a 32-bit INTEGER: a larger input is refused with 422 instead of
# overflowing the database driver (a 500 on SQLite and PostgreSQL alike).
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


def _bound_integers(field) -> None:
    """Bound an Integer field (or the Integers in a List) to INTEGER's range; a narrower
    Range the field declares still applies."""
    if isinstance(field, fields.List):
        _bound_integers(field.inner)
    elif isinstance(field, fields.Integer):
        field.validators = [*field.validators, validate.Range(min=INT_MIN, max=INT_MAX)]
        if type(field) is fields.Integer:
            field.__class__ = WholeInteger


class WholeInteger(fields.Integer):
    """An Integer that refuses a fraction (1.5) instead of truncating it to 1."""

    def _validated(self, value):
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid")
        return super()._validated(value)


# C0 control characters except tab, line feed and carriage return, and DEL: never part of a
# name, a title or Markdown, and NUL cannot even be stored in a PostgreSQL text column.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def has_control_chars(value) -> bool:
    """True when a string anywhere in ``value`` (nested lists and objects, keys too) holds a
    control character. Iterative: a deeply nested body cannot exhaust the stack."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if CONTROL_CHARS.search(item):
                return True
        elif isinstance(item, Mapping):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return False


class StrictSchema(Schema):
    """Input schema: unknown fields are refused (422), strings are trimmed, and integers
    must fit the database's INTEGER."""

    def on_bind_field(self, field_name, field_obj):
        _bound_integers(field_obj)

    @pre_load
    def _strip_strings(self, data, **kwargs):
        if isinstance(data, Mapping):
            refused = {
                k: ["Control characters are not allowed."]
                for k in data
                if has_control_chars(data[k])
            }
            if refused:
                raise ValidationError(refused)
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
    """An email address in its one stored spelling (``lms.core.emails.normalize_email``:
    NFKC, lowercased, IDNA domain; invisible characters and mixed scripts refused)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "@" not in text:
            return text  # the Email validator words it
        try:
            return normalize_email(text)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


class AwareDateTime(fields.AwareDateTime):
    """ISO 8601; inputs without an offset are read as UTC.

    One canonical form: every instant is loaded and dumped in UTC (``+00:00``), so the
    object echoed right after a write reads the same as a later GET, whatever offset the
    client sent (``+08:00`` in, ``+00:00`` out, everywhere).
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("default_timezone", UTC)
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            # stored in UTC: 9999-12-31T23:00-12:00 has no UTC time
            return moment.astimezone(UTC)
        except OverflowError as exc:
            raise ValidationError("The date and time is out of range.") from exc

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return super()._serialize(value, attr, obj, **kwargs)


class TimeZoneName(fields.String):
    """An IANA time zone name (``Asia/Shanghai``), checked against the zone database
    (tzdata is pinned, so a machine without /usr/share/zoneinfo knows the same zones)."""

    def _deserialize(self, value, attr, data, **kwargs):
        name = super()._deserialize(value, attr, data, **kwargs).strip()
        # ZoneInfo also takes paths ("../x") and "localtime"-like keys: refuse them first
        if not name or len(name) > 64 or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_+/-]*", name):
            raise ValidationError(
                "Not a time zone name such as Asia/Shanghai. 不是时区名称（如 Asia/Shanghai）。"
            )
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError(
                "Unknown time zone; use a name such as Asia/Shanghai. "
                "未知时区，请使用如 Asia/Shanghai 的名称。"
            ) from exc
        return name


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
