"""flask-smorest's Api with problem+json errors instead of its own error format."""

from flask_smorest import Api

from lms.core.errors import http_exception_response


class ProblemApi(Api):
    """Answers every HTTPException, including webargs' 400 and 422, as RFC 9457 problems."""

    def handle_http_exception(self, error):
        return http_exception_response(error)
