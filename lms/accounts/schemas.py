"""Input and output schemas of the accounts API."""

from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from lms.accounts.models import ROLE_VALUES
from lms.accounts.passwords import MAX_LENGTH
from lms.core.schemas import AwareDateTime, Email, StrictSchema, Text

PHONE = validate.Regexp(r"^\+?[0-9][0-9 \-]{4,28}$", error="Not a valid phone number.")


class ProfileFields(StrictSchema):
    full_name = Text(validate=validate.Length(min=1, max=100))
    full_name_en = Text(allow_none=True, validate=validate.Length(max=200))
    institution = Text(allow_none=True, validate=validate.Length(max=200))
    department = Text(allow_none=True, validate=validate.Length(max=200))
    title = Text(allow_none=True, validate=validate.Length(max=100))
    staff_no = Text(allow_none=True, validate=validate.Length(max=50))
    phone = Text(allow_none=True, validate=[validate.Length(max=30), PHONE])


class UserCreate(ProfileFields):
    email = Email(required=True, validate=validate.Length(max=254))
    full_name = Text(required=True, validate=validate.Length(min=1, max=100))
    role = fields.String(required=True, validate=validate.OneOf(ROLE_VALUES))
    password = fields.String(load_only=True, validate=validate.Length(max=MAX_LENGTH))


class UserUpdate(ProfileFields):
    email = Email(validate=validate.Length(max=254))
    role = fields.String(validate=validate.OneOf(ROLE_VALUES))
    is_active = fields.Boolean()


class UserListArgs(StrictSchema):
    role = fields.String(validate=validate.OneOf(ROLE_VALUES))
    q = fields.String(validate=validate.Length(min=1, max=100))
    is_active = fields.Boolean()


class UserOut(Schema):
    id = fields.Integer()
    email = fields.String()
    full_name = fields.String()
    full_name_en = fields.String(allow_none=True)
    role = fields.String()
    institution = fields.String(allow_none=True)
    department = fields.String(allow_none=True)
    title = fields.String(allow_none=True)
    staff_no = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    is_active = fields.Boolean()
    is_activated = fields.Boolean()
    created_at = AwareDateTime()
    updated_at = AwareDateTime()
    last_login_at = AwareDateTime(allow_none=True)


class UserCreatedOut(UserOut):
    activation_token = fields.String(allow_none=True)


class ActivationTokenOut(Schema):
    activation_token = fields.String()
    expires_in_hours = fields.Integer()


class LoginIn(StrictSchema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class LoginOut(Schema):
    user = fields.Nested(UserOut)
    csrf_token = fields.String()


class CsrfOut(Schema):
    csrf_token = fields.String()


class ActivateIn(StrictSchema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=200))
    password = fields.String(required=True, validate=validate.Length(max=MAX_LENGTH))


class PasswordChangeIn(StrictSchema):
    current_password = fields.String(required=True, validate=validate.Length(max=1024))
    new_password = fields.String(required=True, validate=validate.Length(max=MAX_LENGTH))


class TokenCreate(StrictSchema):
    name = Text(required=True, validate=validate.Length(min=1, max=100))
    expires_in_days = fields.Integer(validate=validate.Range(min=1, max=365))


class TokenOut(Schema):
    id = fields.Integer()
    name = fields.String()
    prefix = fields.String()
    created_at = AwareDateTime()
    expires_at = AwareDateTime(allow_none=True)
    last_used_at = AwareDateTime(allow_none=True)


class TokenCreatedOut(TokenOut):
    token = fields.String()


class ImportFile(Schema):
    file = Upload(required=True)


class ImportForm(StrictSchema):
    dry_run = fields.Boolean(load_default=False)
    update_existing = fields.Boolean(load_default=None)


class ImportUpload(Schema):
    """The multipart body as documented: parsed as ImportFile plus ImportForm."""

    file = Upload(
        required=True,
        metadata={"description": "CSV (UTF-8 or GB18030) or XLSX; English or Chinese headers."},
    )
    dry_run = fields.Boolean(
        metadata={"description": "Validate, count and answer the per-row plan; write nothing."}
    )
    update_existing = fields.Boolean(
        metadata={
            "description": "Whether existing accounts (matched by email) take the non-empty "
            "cells of their row. Default: true for the user import, false for a roster import "
            "(a roster never changes an account unless asked; differences are warnings)."
        }
    )


class ActivationTokenItem(Schema):
    email = fields.String()
    token = fields.String()


class RowMessage(Schema):
    """A warning or error about one row (``row`` null: the file; ``field`` "header": a
    header cell), ``column`` naming the column as the file's header does."""

    row = fields.Integer(allow_none=True)
    field = fields.String()
    column = fields.String()
    message = fields.String()


class FieldChange(Schema):
    old = fields.Raw(allow_none=True)
    new = fields.Raw(allow_none=True)


class ImportPlanEntry(Schema):
    """What the import does (or did) with one row of the file."""

    row = fields.Integer(metadata={"description": "The row number a spreadsheet shows."})
    email = fields.String()
    action = fields.String(
        metadata={
            "description": "create, update or skip (an existing account left unchanged) for "
            "the user import; for a roster import the place: enrol, waitlist, or skip "
            "(already enrolled).",
            "enum": ["create", "update", "enrol", "waitlist", "skip"],
        }
    )
    account = fields.String(
        metadata={
            "description": "Roster import only: what happens to the account (create, update, "
            "skip).",
            "enum": ["create", "update", "skip"],
        }
    )
    changes = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(FieldChange),
        metadata={"description": "The fields written: field -> {old, new} (old null: new)."},
    )
    errors = fields.List(fields.Nested(RowMessage))


class ImportReport(Schema):
    rows = fields.Integer()
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    enrolled = fields.Integer()
    dry_run = fields.Boolean()
    activation_tokens = fields.List(fields.Nested(ActivationTokenItem))
    plan = fields.List(
        fields.Nested(ImportPlanEntry),
        metadata={
            "description": "One entry per data row, in file order. A dry run of a file "
            "with bad rows answers 422 with ``errors`` and this ``plan`` too (bad rows: "
            "action skip, with their errors)."
        },
    )
    warnings = fields.List(
        fields.Nested(RowMessage),
        metadata={
            "description": "What was ignored: unknown or blank header cells, and (without "
            "update_existing) cells that differ from an existing account."
        },
    )
