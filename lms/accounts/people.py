"""The people columns of spreadsheets and how a person row is validated.

The user import and the course roster import read the same columns (English or Chinese
headers) with the rules of the users API (``UserCreate``); roles may be given by their
Chinese names.
"""

from __future__ import annotations

from marshmallow import ValidationError, fields

from lms.accounts.schemas import UserCreate
from lms.core import tabular
from lms.core.emails import normalize_email
from lms.core.schemas import has_control_chars

REQUIRED_PEOPLE_COLUMNS = ("email", "full_name")

# Header as typed (trimmed, lowercased, spaces and hyphens as "_") -> canonical column.
# Columns a real roster has besides these (序号, 性别, 备注, ...) are ignored with a warning.
PEOPLE_COLUMNS = {
    "email": "email",
    "e_mail": "email",
    "mail": "email",
    "email_address": "email",
    "邮箱": "email",
    "电子邮箱": "email",
    "电子邮件": "email",
    "邮箱地址": "email",
    "电子信箱": "email",
    "电子邮件地址": "email",
    "full_name": "full_name",
    "name": "full_name",
    "姓名": "full_name",
    "名字": "full_name",
    "教师姓名": "full_name",
    "学员姓名": "full_name",
    "full_name_en": "full_name_en",
    "english_name": "full_name_en",
    "英文名": "full_name_en",
    "英文姓名": "full_name_en",
    "姓名拼音": "full_name_en",
    "拼音": "full_name_en",
    "institution": "institution",
    "school": "institution",
    "organization": "institution",
    "单位": "institution",
    "工作单位": "institution",
    "所在单位": "institution",
    "单位名称": "institution",
    "学校": "institution",
    "学校名称": "institution",
    "所在学校": "institution",
    "所在院校": "institution",
    "院校": "institution",
    "department": "department",
    "部门": "department",
    "院系": "department",
    "所在部门": "department",
    "二级学院": "department",
    "title": "title",
    "职称": "title",
    "staff_no": "staff_no",
    "工号": "staff_no",
    "教工号": "staff_no",
    "职工号": "staff_no",
    "phone": "phone",
    "mobile": "phone",
    "手机": "phone",
    "手机号": "phone",
    "手机号码": "phone",
    "联系电话": "phone",
    "联系方式": "phone",
    "电话": "phone",
    "role": "role",
    "角色": "role",
    "身份": "role",
}

# Each column's name in English and Chinese, for messages about a column the file lacks.
PEOPLE_LABELS = {
    "email": ("email", "邮箱"),
    "full_name": ("full name", "姓名"),
    "full_name_en": ("English name", "英文名"),
    "institution": ("institution", "单位"),
    "department": ("department", "部门"),
    "title": ("title", "职称"),
    "staff_no": ("staff number", "工号"),
    "phone": ("phone", "手机"),
    "role": ("role", "角色"),
}

ROLE_ALIASES = {
    "teacher": "teacher",
    "student": "teacher",
    "trainee": "teacher",
    "学员": "teacher",
    "教师": "teacher",
    "老师": "teacher",
    "参训教师": "teacher",
    "参训老师": "teacher",
    "参训学员": "teacher",
    "培训教师": "teacher",
    "培训学员": "teacher",
    "instructor": "instructor",
    "导师": "instructor",
    "讲师": "instructor",
    "指导教师": "instructor",
    "指导老师": "instructor",
    "授课教师": "instructor",
    "主讲教师": "instructor",
    "admin": "admin",
    "教务": "admin",
    "管理员": "admin",
    "教务员": "admin",
    "教务老师": "admin",
}


class RoleName(fields.String):
    """A role, in English or as its Chinese name (学员, 导师, 教务, ...)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        role = ROLE_ALIASES.get(text.strip().lower())
        if role is None:
            raise ValidationError(
                f'Unknown role "{text}": use teacher, instructor or admin. '
                f"未知角色“{text}”：请填写 学员、导师 或 教务。"
            )
        return role


class PersonRow(UserCreate):
    """One person row: the account fields and rules of the users API; role optional."""

    role = RoleName()

    class Meta:
        exclude = ("password",)


# The fields a person row may have, each with how the schema turns a non-blank trimmed cell
# into its value (PersonRow: Text and Email fields, StrictSchema's trimming and a RoleName).
# Declared here, beside the schema they mirror; tests/core/test_tabular_plain.py checks that
# both load the same values.
def _fast_email(value: str) -> str | None:
    """The Email field's normalisation (None: the schema words the refusal)."""
    try:
        return normalize_email(value)
    except ValueError:
        return None


def email_key(value: str) -> str:
    """Emails of a file compare in their stored spelling (fullwidth or upper case alike)."""
    try:
        return normalize_email(value)
    except ValueError:
        return value.strip().lower()


FAST_FIELDS = {
    "email": _fast_email,
    "full_name": str,
    "full_name_en": str,
    "institution": str,
    "department": str,
    "title": str,
    "staff_no": str,
    "phone": str,
    "role": lambda value: ROLE_ALIASES.get(value.lower()),
}
_PERSON_ROW = PersonRow()


def fast_person_row(given: dict[str, str]) -> dict | None:
    """What ``PersonRow().load(given)`` returns for a row it surely accepts, without running
    marshmallow (far cheaper, which files of many thousand rows need); None for anything
    doubtful (blank or control characters, a missing required field, a failing
    validator), which the schema then loads and words."""
    if "email" not in given or "full_name" not in given:
        return None
    loaded = {}
    for name, value in given.items():
        convert = FAST_FIELDS.get(name)
        if convert is None or not isinstance(value, str) or has_control_chars(value):
            return None
        result = convert(value.strip()) if value.strip() else None
        if result is None:
            return None
        try:
            for validator in _PERSON_ROW.load_fields[name].validators:
                validator(result)
        except ValidationError:
            return None
        loaded[name] = result
    return loaded


def read_people(source, **kwargs) -> tabular.Table:
    """Read an uploaded people file (``tabular.read_table`` with the people columns)."""
    return tabular.read_table(
        source,
        columns=PEOPLE_COLUMNS,
        required=REQUIRED_PEOPLE_COLUMNS,
        labels=PEOPLE_LABELS,
        **kwargs,
    )


def validate_people(table: tabular.Table) -> tuple[list[tabular.RowData], list[dict]]:
    """Validate person rows: field rules of the users API, and no email twice in the file.

    Valid rows hold only the fields that were given; an empty role cell stays absent, so
    the caller applies its default to new accounts without resetting existing ones.
    """
    valid, errors = tabular.validate_rows(table, _PERSON_ROW, fast=fast_person_row)
    errors += tabular.duplicate_errors(
        table.rows, "email", key=email_key, label=table.headers.get("email")
    )
    bad = {e["row"] for e in errors}
    return [row for row in valid if row.number not in bad], errors
