"""Teacher-training LMS: the application factory."""

from __future__ import annotations

import logging

from flask import Flask

from config import load_config


class LmsFlask(Flask):
    """Flask with one commit per request, at the request boundary.

    Services only flush. A view that returns normally gets its transaction committed here,
    inside the dispatch, so that a failing commit (a constraint violated by a concurrent
    request, say) still reaches the error handlers as a clean problem response.
    """

    def dispatch_request(self):
        from lms.extensions import db

        response = self.make_response(super().dispatch_request())
        if response.status_code < 400:
            db.session.commit()
        else:
            db.session.rollback()
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

    _init_extensions(app)
    _register_blueprints(app)

    from lms.cli import register_cli
    from lms.core.errors import register_error_handlers

    register_error_handlers(app)
    register_cli(app)
    return app


def _init_extensions(app: Flask) -> None:
    from lms import models  # noqa: F401 - every model registered before the metadata is used
    from lms.core.auth import init_auth
    from lms.core.web import init_web
    from lms.extensions import api, csrf, db, limiter, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    api.init_app(app)
    init_auth(app)
    init_web(app)


def _register_blueprints(app: Flask) -> None:
    from lms.accounts.views import auth_blp, users_blp
    from lms.audit.views import blp as audit_blp
    from lms.catalog.views import courses_blp, modules_blp, programs_blp
    from lms.certificates import completion_views, credential_views, pdf_views
    from lms.certificates import views as certificate_views
    from lms.certificates.pages import pages as verify_pages
    from lms.enrollments.views import blp as enrollments_blp
    from lms.extensions import api
    from lms.jobs.views import blp as jobs_blp
    from lms.learning.views import blp as learning_blp
    from lms.practicals.grading_views import blp as grading_blp
    from lms.practicals.views import blp as submissions_blp

    for blueprint in (
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
    ):
        api.register_blueprint(blueprint)
    app.register_blueprint(verify_pages)
