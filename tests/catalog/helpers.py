"""Payload builders for catalogue tests (also used by enrolment and learning tests)."""

COURSE = {
    "code": "GZ-2020-IIOT",
    "title": "工业互联网产教融合教师研修·广州站",
    "host_institution": "广东轻工职业技术学院",
    "organizers": ["中国职业技术教育学会", "中国工业互联网研究院"],
    "location": "广州",
    "starts_on": "2020-12-02",
    "ends_on": "2020-12-08",
    "capacity": 90,
    "waitlist_enabled": True,
    "min_theory_hours": 12,
    "min_practical_hours": 16,
}

THEORY = {
    "kind": "theory",
    "title": "工业互联网体系架构",
    "hours": 4,
    "content": "## 体系架构\n网络、平台、安全三大体系。",
    "resources": [{"title": "白皮书", "url": "https://example.org/aii.pdf"}],
}

QUIZ = {
    "pass_percent": 60,
    "max_attempts": 3,
    "questions": [
        {
            "prompt": "工业互联网的三大体系是？",
            "choices": ["网络、平台、安全", "云、管、端", "人、机、料"],
            "correct": [0],
            "points": 2,
        },
        {
            "prompt": "以下哪些属于5G关键特性？",
            "choices": ["eMBB", "URLLC", "mMTC", "ADSL"],
            "correct": [0, 1, 2],
            "points": 3,
        },
    ],
}

PRACTICAL = {
    "kind": "practical",
    "title": "工业互联网平台设备接入实训",
    "hours": 8,
    "brief": "将PLC设备接入平台并上报数据。",
    "pass_points": 60,
    "due_at": "2020-12-06T18:00:00+08:00",
    "closes_at": "2020-12-08T18:00:00+08:00",
    "max_attempts": 3,
    "reopen": "manual",
    "allowed_extensions": [".pdf", ".zip"],
    "max_file_mb": 20,
    "rubric": [
        {"title": "设备接入", "max_points": 40},
        {"title": "数据上报", "max_points": 40},
        {"title": "实训报告", "description": "结构清晰", "max_points": 20},
    ],
}


def create_course(client, **overrides):
    response = client.post("/api/v1/courses", json={**COURSE, **overrides})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def add_module(client, course_id, payload):
    response = client.post(f"/api/v1/courses/{course_id}/modules", json=payload)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def published_course(client, **overrides):
    course = create_course(client, **overrides)
    add_module(client, course["id"], THEORY)
    response = client.post(f"/api/v1/courses/{course['id']}/publish")
    assert response.status_code == 200, response.get_json()
    return response.get_json()
