"""The public verification page a certificate's QR code points to (server-rendered HTML).

Chinese and English, readable on a phone, no scripts and no external assets (the CSP of
lms.core.web allows inline styles only). Unknown codes answer a 404 page and too many
requests a 429 page, both HTML; the rate limit is shared with the verification API.
"""

from flask import Blueprint, render_template, url_for
from flask_limiter.errors import RateLimitExceeded

from lms.certificates import verification
from lms.certificates.views import verify_limit
from lms.core.errors import NotFound

pages = Blueprint("verify_pages", __name__, template_folder="templates")

STATUS_LABELS = {
    "valid": ("有效", "VALID"),
    "revoked": ("已撤销", "REVOKED"),
    "expired": ("已过期", "EXPIRED"),
    "superseded": ("已被替换", "SUPERSEDED"),
}


def _page(status_code: int, **context):
    response = render_template("verify.html", labels=STATUS_LABELS, **context)
    # The status can change (revocation): caches revalidate; search engines stay away.
    headers = {
        "Cache-Control": "no-cache",
        "X-Robots-Tag": "noindex",
        "Referrer-Policy": "no-referrer",
    }
    return response, status_code, headers


@pages.route("/verify/<string:code>")
@verify_limit
def verify_page(code):
    """The certificate behind a QR code, its status impossible to miss."""
    try:
        view = verification.page_answer(
            code, link=lambda c: url_for("verify_pages.verify_page", code=c)
        )
    except NotFound:
        return _page(404, certificate=None)
    return _page(200, certificate=view)


@pages.errorhandler(RateLimitExceeded)
def _too_many(error):
    return _page(429, certificate=None, rate_limited=True)
