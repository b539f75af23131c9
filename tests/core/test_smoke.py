from tests.http import assert_problem


def test_healthz_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_admin_logs_in_with_csrf_and_reads_me(admin_client, admin):
    response = admin_client.get("/api/v1/auth/me")
    assert response.status_code == 200
    assert response.get_json()["email"] == admin.email


def test_unknown_route_is_problem_404(client):
    assert_problem(client.get("/api/v1/nope"), 404)
