"""Markdown sources come with their sanitised HTML over HTTP: a module's content_html and
brief_html, a submission's text_html, a grade's feedback_html (and its history's), all made
by one renderer (lms.core.markdown)."""

from __future__ import annotations

from tests.http import add_module, graded_setup, make_course, practical_setup, submitted
from tests.payloads import SHORT_THEORY

HOSTILE = (
    "**要点** 与 [指南](https://example.org/guide)\n\n"
    "<script>alert('x')</script>"
    '<img src="https://tracker.example/p.png" onerror="alert(1)">'
    '<a href="javascript:alert(2)" onclick="steal()">点我</a>\n\n'
    "![外链图片](https://tracker.example/q.png)"
)
FORBIDDEN = ("<script", "alert", "onerror", "onclick", "javascript:", "<img", "tracker.example")


def assert_safe(html: str) -> None:
    assert "<strong>要点</strong>" in html
    assert '<a href="https://example.org/guide" rel="noopener noreferrer nofollow">' in html
    for forbidden in FORBIDDEN:
        assert forbidden not in html, forbidden
    assert "外链图片" in html  # an image keeps its alt text, never its URL


def test_module_content_and_brief_come_with_sanitised_html(admin_client):
    course = make_course(admin_client, publish=False)
    theory = add_module(admin_client, course["id"], {**SHORT_THEORY, "content": HOSTILE})
    assert theory["content"] == HOSTILE  # the source, as sent
    assert_safe(theory["content_html"])
    assert "brief_html" not in theory  # a theory module has no brief
    setup = practical_setup(admin_client, brief=HOSTILE, content=None)
    practical = admin_client.get(f"/api/v1/modules/{setup['module']['id']}").get_json()
    assert_safe(practical["brief_html"])
    assert practical["content"] is None and practical["content_html"] is None


def test_changing_module_content_renders_it_again(admin_client):
    course = make_course(admin_client, publish=False)
    module = add_module(admin_client, course["id"], {**SHORT_THEORY, "content": "旧"})
    response = admin_client.patch(f"/api/v1/modules/{module['id']}", json={"content": "*新*"})
    assert response.get_json()["content_html"] == "<p><em>新</em></p>\n"
    listed = admin_client.get(f"/api/v1/courses/{course['id']}/modules").get_json()
    assert listed[0]["content_html"] == "<p><em>新</em></p>\n"


def test_submission_text_comes_with_sanitised_html(admin_client, teacher_client):
    setup = practical_setup(admin_client, teacher_client)
    body = submitted(teacher_client, setup["module"]["id"], text=HOSTILE)
    assert body["text"] == HOSTILE
    assert_safe(body["text_html"])
    again = teacher_client.get(f"/api/v1/submissions/{body['id']}").get_json()
    assert again["text_html"] == body["text_html"]


def test_feedback_and_its_history_come_with_sanitised_html(app, users):
    g = graded_setup(app, users)
    grade = g.grade(feedback=HOSTILE).get_json()
    assert_safe(grade["feedback_html"])
    history = g.instructor_client.get(f"/api/v1/submissions/{g.submission.id}/grade/history")
    assert history.status_code == 200, history.get_json()
    assert [r["feedback_html"] for r in history.get_json()] == [grade["feedback_html"]]
