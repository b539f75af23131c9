"""Open Badges 3.0 credentials, VC-JWT and the issuer's JWKS."""

from flask_smorest import Blueprint

blp = Blueprint(
    "credentials",
    __name__,
    url_prefix="/api/v1",
    description="Open Badges 3.0 credentials, VC-JWT and the issuer's JWKS.",
)
