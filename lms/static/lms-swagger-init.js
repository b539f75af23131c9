// Starts Swagger UI without inline script, so the docs page runs under a strict CSP.
//
// Cookie sessions need the CSRF token on unsafe requests. The page fetches one when it
// loads, and keeps the one that answers carry afterwards: login and a password change
// start a new session and return its token (`csrf_token`), and the old one stops working.
// After a logout the session is gone, so the page fetches a fresh token.
(function () {
  var UNSAFE = ["POST", "PUT", "PATCH", "DELETE"];

  function fetchCsrfToken() {
    return fetch("/api/v1/auth/csrf", { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (body) { window.lmsCsrfToken = body.csrf_token; });
  }

  function requestInterceptor(req) {
    var unsafe = UNSAFE.indexOf((req.method || "").toUpperCase()) >= 0;
    if (unsafe && window.lmsCsrfToken) { req.headers["X-CSRFToken"] = window.lmsCsrfToken; }
    return req;
  }

  function responseInterceptor(res) {
    var body = res && (res.body || res.obj);
    if (body && typeof body === "object" && typeof body.csrf_token === "string") {
      window.lmsCsrfToken = body.csrf_token;
    } else if (res && res.ok && /\/api\/v1\/auth\/logout(\?|$)/.test(res.url || "")) {
      return fetchCsrfToken().then(function () { return res; });
    }
    return res;
  }

  window.lmsSwagger = {
    fetchCsrfToken: fetchCsrfToken,
    requestInterceptor: requestInterceptor,
    responseInterceptor: responseInterceptor,
  };

  window.addEventListener("load", function () {
    var root = document.getElementById("swagger-ui-container");
    window.ui = SwaggerUIBundle({
      url: root.getAttribute("data-spec-url"),
      dom_id: "#swagger-ui-container",
      deepLinking: true,
      persistAuthorization: false,
      requestInterceptor: requestInterceptor,
      responseInterceptor: responseInterceptor,
    });
    fetchCsrfToken();
  });
})();
