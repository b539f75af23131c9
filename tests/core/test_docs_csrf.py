"""The API docs page keeps the CSRF token that login returns: its script (served, no inline
script) reads ``csrf_token`` from answers and sends the latest one on unsafe requests.
The script runs under Node with a stubbed browser (no browser needed); the tokens it
picks are then sent to the real API."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from tests.builders import PASSWORD
from tests.http import ApiClient

# Loads the served script with a stubbed window, SwaggerUIBundle and fetch; replays the
# answers given on stdin through the interceptors Swagger UI was configured with.
NODE_HARNESS = r"""
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
let handlers = {}, config = null, fetched = [];
global.window = { addEventListener: (name, fn) => { handlers[name] = fn; } };
global.document = { getElementById: () => ({ getAttribute: () => "/api/v1/openapi.json" }) };
global.SwaggerUIBundle = (c) => { config = c; return {}; };
let csrfAnswers = input.csrf_answers.slice();
global.fetch = (url) => { fetched.push(url); const token = csrfAnswers.shift();
  return Promise.resolve({ json: () => Promise.resolve({ csrf_token: token }) }); };
eval(input.script);
(async () => {
  handlers.load();
  await new Promise((r) => setTimeout(r, 0));
  const sent = () =>
    config.requestInterceptor({ method: "POST", headers: {} }).headers["X-CSRFToken"];
  const out = { before_login: sent() };
  const base = "http://localhost/api/v1/auth/";
  await config.responseInterceptor({ ok: true, url: base + "login", body: input.login });
  out.after_login = sent();
  out.get_headers = config.requestInterceptor({ method: "GET", headers: {} }).headers;
  await config.responseInterceptor({ ok: true, url: base + "logout", body: undefined });
  out.after_logout = sent();
  out.fetched = fetched;
  console.log(JSON.stringify(out));
})();
"""


def served_script(client) -> str:
    html = client.get("/api/v1/docs").get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # no inline script
    (url,) = [u for u in re.findall(r'<script src="([^"]+)"', html) if "lms-swagger-init" in u]
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_docs_script_wires_a_response_interceptor_that_keeps_the_login_token(client):
    script = served_script(client)
    assert "responseInterceptor: responseInterceptor" in script
    assert "requestInterceptor: requestInterceptor" in script
    assert "csrf_token" in script and "X-CSRFToken" in script


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run the script")
def test_after_logging_in_through_the_docs_page_unsafe_requests_carry_the_new_token(app, teacher):
    browser = ApiClient(app.test_client())
    page_token = browser.fetch_csrf()  # what the page fetched when it loaded
    login = browser.post("/api/v1/auth/login", json={"email": teacher.email, "password": PASSWORD})
    assert login.status_code == 200, login.get_json()
    after_logout_token = "token-fetched-after-logout"
    run = subprocess.run(
        [shutil.which("node"), "-e", NODE_HARNESS],
        input=json.dumps(
            {
                "script": served_script(browser),
                "login": login.get_json(),
                "csrf_answers": [page_token, after_logout_token],
            }
        ),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    out = json.loads(run.stdout)
    assert out["before_login"] == page_token
    assert out["after_login"] == login.get_json()["csrf_token"] != page_token
    assert "X-CSRFToken" not in out["get_headers"]
    assert out["after_logout"] == after_logout_token
    assert out["fetched"] == ["/api/v1/auth/csrf", "/api/v1/auth/csrf"]

    # the token the page now sends is the one the server takes; the page's first one is not
    browser.csrf_token = None
    stale = browser.post("/api/v1/auth/logout", headers={"X-CSRFToken": page_token})
    assert stale.status_code == 403
    fresh = browser.post("/api/v1/auth/logout", headers={"X-CSRFToken": out["after_login"]})
    assert fresh.status_code == 204, fresh.get_data(as_text=True)
