// Starts Swagger UI without inline script, so the docs page runs under a strict CSP.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui-container");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    dom_id: "#swagger-ui-container",
    deepLinking: true,
    persistAuthorization: false,
    // Cookie sessions need the CSRF token on unsafe requests; fetch it once per page.
    requestInterceptor: function (req) {
      var unsafe = ["POST", "PUT", "PATCH", "DELETE"].indexOf((req.method || "").toUpperCase()) >= 0;
      if (unsafe && window.lmsCsrfToken) { req.headers["X-CSRFToken"] = window.lmsCsrfToken; }
      return req;
    },
  });
  fetch("/api/v1/auth/csrf", { credentials: "same-origin" })
    .then(function (r) { return r.json(); })
    .then(function (body) { window.lmsCsrfToken = body.csrf_token; });
});
