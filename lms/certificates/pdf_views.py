"""Certificate PDFs and ZIP export."""

from flask_smorest import Blueprint

blp = Blueprint(
    "certificate_files",
    __name__,
    url_prefix="/api/v1",
    description="Certificate PDFs and ZIP export.",
)
