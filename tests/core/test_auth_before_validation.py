from tests.http import assert_problem


def test_anonymous_gets_401_before_any_validation(client):
    client.bearer = "lms_pat_unknown"
    assert_problem(client.post("/api/v1/users", json={"email": "bad"}), 401)
    assert_problem(client.get("/api/v1/users?role=bogus"), 401)


def test_teacher_gets_403_before_any_validation(teacher_client):
    assert_problem(teacher_client.post("/api/v1/users", json={"email": "bad"}), 403)
    assert_problem(teacher_client.post("/api/v1/courses", json={}), 403)
