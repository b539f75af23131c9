"""Certificate issuance, revocation, reissue, lookup and public verification."""

from flask_smorest import Blueprint

blp = Blueprint(
    "certificates",
    __name__,
    url_prefix="/api/v1",
    description="Certificate issuance, revocation, reissue, lookup and public verification.",
)
