"""Teacher-training LMS: the application factory, one of the composition roots.

It may import every package (nothing imports it): it binds the extensions, registers the
blueprints, and wires the domains to each other explicitly (signals, the catalogue's seat
clause, the job handlers, the login loaders), so that no package depends on an import
side effect. docs/architecture.md describes the layers.
"""

from __future__ import annotations

import logging

from flask import Flask

from config import load_config
from lms import models  # noqa: F401 - every model registered before the metadata is used
from lms.accounts import services as accounts
from lms.accounts.views import auth_blp, users_blp
from lms.audit.views import blp as audit_blp
from lms.catalog import permissions as catalog_permissions
from lms.catalog import signals as catalog_signals
from lms.catalog.views import courses_blp, modules_blp, programs_blp
from lms.certificates import credential_views, pdf_views
from lms.certificates import jobs as certificate_jobs
from lms.certificates import listing as certificate_listing
from lms.certificates import views as certificate_views
from lms.certificates.fonts import check_certificate_font
from lms.certificates.pages import pages as verify_pages
from lms.cli import register_cli
from lms.completion import exports as completion_exports
from lms.completion import views as completion_views
from lms.core.auth import init_auth
from lms.core.db import reading_stream
from lms.core.errors import register_error_handlers
from lms.core.web import init_web
from lms.enrollments import access as enrollment_access
from lms.enrollments import services as enrollments
from lms.enrollments.views import blp as enrollments_blp
from lms.extensions import api, csrf, db, limiter, migrate
from lms.jobs import services as jobs
from lms.jobs.views import blp as jobs_blp
from lms.learning import services as learning
from lms.learning.views import blp as learning_blp
from lms.practicals import submissions as practicals
from lms.practicals.grading_views import blp as grading_blp
from lms.practicals.views import blp as submissions_blp

BLUEPRINTS = (
    auth_blp,
    users_blp,
    audit_blp,
    programs_blp,
    courses_blp,
    modules_blp,
    enrollments_blp,
    learning_blp,
    submissions_blp,
    grading_blp,
    completion_views.blp,
    certificate_views.blp,
    pdf_views.blp,
    credential_views.blp,
    jobs_blp,
)


class LmsFlask(Flask):
    """Flask with one commit per request, at the request boundary.

    Services only flush. A view that returns normally gets its transaction committed here,
    inside the dispatch, so that a failing commit (a constraint violated by a concurrent
    request, say) still reaches the error handlers as a clean problem response. A streamed
    body is produced after that commit: on SQLite its reads begin deferred transactions
    (``lms.core.db.reading_stream``), every other transaction takes the write lock up front.
    """

    def dispatch_request(self):
        response = self.make_response(super().dispatch_request())
        if response.status_code < 400:
            db.session.commit()
        else:
            db.session.rollback()
        if response.is_streamed and not response.direct_passthrough:
            response.response = reading_stream(response.response)
        return response


def create_app(config: dict | None = None) -> Flask:
    """Build the app; ``config`` overrides what the environment gives."""
    app = LmsFlask(__name__, instance_relative_config=False)
    settings = load_config((config or {}).get("LMS_ENV"))
    settings.update(config or {})
    app.config.update(settings)
    if not app.config["TESTING"]:
        logging.basicConfig(level=logging.INFO)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

    check_certificate_font(app)  # production refuses to start without an embeddable font
    _init_extensions(app)
    connect_domains()
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.register_blueprint(verify_pages)
    register_error_handlers(app)
    register_cli(app)
    return app


def _init_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    api.init_app(app)
    init_auth(
        app,
        user_for_session=accounts.user_for_session_key,
        user_for_token=accounts.user_for_api_token,
    )
    init_web(app)


def connect_domains() -> None:
    """The cross-domain wiring, in one place. Idempotent: blinker keeps one connection per
    receiver, and the registrations replace what they set."""
    catalog_signals.module_activity.connect(learning.module_has_learning_activity)
    catalog_signals.module_activity.connect(practicals.module_has_submissions)
    catalog_signals.seats_added.connect(enrollments.promote_on_new_seats)
    catalog_permissions.use_seat_clause(enrollment_access.seat_clause)
    completion_exports.use_certificate_serials(certificate_listing.valid_serials)
    for kind, handler in certificate_jobs.HANDLERS.items():
        jobs.register_handler(kind, handler)
