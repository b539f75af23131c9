"""Extension singletons, bound to the app in ``create_app``.

``db`` (lms.core.db), ``login_manager`` and ``csrf`` (lms.core.auth) are defined in core, which
uses them; this module gathers them with the rest for the domains.
"""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate

from lms.core.api import ProblemApi
from lms.core.auth import csrf, login_manager
from lms.core.db import db

migrate = Migrate(compare_type=True, render_as_batch=True)
api = ProblemApi()
limiter = Limiter(key_func=get_remote_address)

__all__ = ["api", "csrf", "db", "limiter", "login_manager", "migrate"]
