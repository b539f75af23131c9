"""The ``progress(done, total)`` callbacks of the long services (what the CLI progress bars
and the jobs show): monotonic, batch by batch, ending at ``(total, total)``."""

from __future__ import annotations

from sqlalchemy import func, select

from lms.accounts import imports as user_import
from lms.accounts.models import ActivationToken, User
from lms.audit.services import verify_chain
from lms.catalog.models import Course
from lms.enrollments import imports as roster_import
from lms.enrollments.models import Enrollment
from lms.extensions import db
from tests.http import certificate_course


def people_csv(start: int, count: int) -> bytes:
    rows = ["email,full_name,institution"] + [
        f"p{n:03d}@progress.edu.cn,学员{n},深圳职业技术大学" for n in range(start, start + count)
    ]
    return ("\r\n".join(rows) + "\r\n").encode()


def test_roster_import_counts_accounts_created_then_places_written(
    admin, admin_client, users, monkeypatch
):
    monkeypatch.setattr(user_import, "FLUSH_BATCH", 2)
    course = db.session.get(Course, certificate_course(admin_client)["id"])
    users.create(email="p000@progress.edu.cn", full_name="学员0", password=None)  # exists
    calls = []

    report = roster_import.import_roster(
        course,
        people_csv(0, 5),
        dry_run=False,
        actor=admin,
        progress=lambda done, total: calls.append((done, total)),
    )

    assert (report["created"], report["enrolled"]) == (4, 5)
    # 4 accounts in batches of 2, then 5 places in batches of 2
    assert calls == [(2, 9), (4, 9), (6, 9), (8, 9), (9, 9)]
    enrolled = db.session.scalars(
        select(Enrollment.user_id).where(Enrollment.course_id == course.id)
    ).all()
    assert len(enrolled) == 5
    new = db.session.scalars(select(User).where(User.email.like("p%@progress.edu.cn"))).all()
    tokens = db.session.scalar(
        select(func.count())
        .select_from(ActivationToken)
        .where(ActivationToken.user_id.in_([u.id for u in new]))
    )
    assert tokens == 4 and {t["email"] for t in report["activation_tokens"]} == {
        f"p{n:03d}@progress.edu.cn" for n in range(1, 5)
    }
    assert verify_chain()[1] is None


def test_user_import_counts_updates_then_accounts_created(admin, users, monkeypatch):
    monkeypatch.setattr(user_import, "FLUSH_BATCH", 2)
    for n in range(3):
        users.create(email=f"p{n:03d}@progress.edu.cn", full_name="旧名字", password=None)
    calls = []

    report = user_import.import_users(
        people_csv(0, 6),
        dry_run=False,
        actor=admin,
        progress=lambda done, total: calls.append((done, total)),
    )

    assert (report["updated"], report["created"]) == (3, 3)
    assert calls == [(2, 6), (3, 6), (5, 6), (6, 6)]
    assert {
        u.full_name
        for u in db.session.scalars(select(User).where(User.email.like("p%@progress.edu.cn")))
    } == {f"学员{n}" for n in range(6)}
    assert verify_chain()[1] is None
