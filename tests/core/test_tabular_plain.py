"""The fast path of lms.accounts.people: fast_person_row loads exactly what the schema loads,
``among`` finds what ``IN`` finds, ``insert_rows`` keeps the list order."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lms.accounts import people
from lms.accounts.models import User
from lms.audit import services as audit
from lms.audit.models import AuditEvent
from lms.core import bulk

VALID_ROWS = [
    {"email": "li.ming@gdqy.edu.cn", "full_name": "李明"},
    {"email": " Wang.Na@Example.CN ", "full_name": " 王娜 ", "role": "学员"},
    {"email": "a@b.cn", "full_name": "x", "role": "Instructor", "phone": "+86 138-0000-0000"},
    {
        "email": "t@x.cn",
        "full_name": "y",
        "staff_no": "0012",
        "title": "讲师",
        "department": "机电",
    },
    {"email": "u@x.cn", "full_name": "z", "institution": "i" * 200, "full_name_en": "Zhang"},
    {"email": "ｔeacher01@ＤＥＭＯ.lms.cn", "full_name": "李娜"},  # NFKC: plain ASCII
    {"email": "li.na@深圳职业技术大学.中国", "full_name": "李娜"},  # IDNA domain
]
DOUBTFUL_ROWS = [
    {"email": "not-an-email", "full_name": "x"},
    {"email": "a@b.cn"},  # full_name missing
    {"full_name": "x"},  # email missing
    {"email": "a@b.cn", "full_name": "x" * 101},
    {"email": "a@b.cn", "full_name": "x", "phone": "12"},
    {"email": "a@b.cn", "full_name": "x", "role": "superuser"},
    {"email": "a@b.cn", "full_name": "bell\x07"},
    {"email": "a@b.cn", "full_name": "del\x7f"},
    {"email": "a@b.cn", "full_name": "x", "password": "secret"},  # excluded field
    {"email": "a@b.cn", "full_name": "x", "unknown": "y"},
    {"email": ("x" * 250) + "@b.cn", "full_name": "x"},
    {"email": "teacher01@d\u0435mo.lms.cn", "full_name": "x"},  # Cyrillic е: mixed scripts
    {"email": "teacher\u200b01@demo.lms.cn", "full_name": "x"},  # zero-width space
]


@pytest.mark.parametrize("given", VALID_ROWS)
def test_plain_checks_load_what_the_schema_loads(given):
    schema = people.PersonRow()
    loaded = people.fast_person_row(given)
    assert loaded is not None
    assert loaded == schema.load(given)


@pytest.mark.parametrize("given", DOUBTFUL_ROWS)
def test_plain_checks_leave_every_doubtful_row_to_the_schema(given):
    assert people.fast_person_row(given) is None


def test_invalid_rows_keep_the_schemas_messages():
    text = "email,full_name,phone\nbad,甲,\nok@x.cn,,12\nfine@x.cn,乙,\n"
    table = people.read_people(text.encode())
    valid, errors = people.validate_people(table)
    assert [row.values["email"] for row in valid] == ["fine@x.cn"]
    assert [(e["row"], e["field"], e["message"]) for e in errors] == [
        (2, "email", "Not a valid email address."),
        (3, "full_name", "Missing data for required field."),
        (3, "phone", "Not a valid phone number."),
    ]


def test_among_matches_in_for_text_and_integer_keys(users):
    awkward = ['quote"d@x.cn', "back\\slash@x.cn", "comma,brace}@x.cn", "plain@x.cn"]
    made = [users.create(email=email) for email in awkward]
    emails = [*awkward, "absent@x.cn"]
    found = set(
        User.query.session.scalars(select(User.email).where(bulk.among(User.email, emails)))
    )
    assert found == set(awkward)
    ids = [u.id for u in made[:2]] + [10**9]
    found_ids = set(User.query.session.scalars(select(User.id).where(bulk.among(User.id, ids))))
    assert found_ids == {u.id for u in made[:2]}
    assert list(User.query.session.scalars(select(User.id).where(bulk.among(User.id, [])))) == []


def test_insert_rows_returns_ids_in_list_order(users):
    made = users.create(email="ordered@x.cn")
    events = [audit.PendingEvent("demo.bulk", "demo", n, {"n": n, "at": [n]}) for n in range(30)]
    appended = audit.record_many(events, actor=made)
    stored = list(
        User.query.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "demo.bulk").order_by(AuditEvent.id)
        )
    )
    assert [e.hash for e in stored] == [e.hash for e in appended]
    assert [e.data for e in stored] == [{"n": n, "at": [n]} for n in range(30)]
    assert audit.verify_chain()[1] is None
