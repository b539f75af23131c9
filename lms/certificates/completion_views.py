"""Completion evaluation with reasons."""

from flask_smorest import Blueprint

blp = Blueprint(
    "completion", __name__, url_prefix="/api/v1", description="Completion evaluation with reasons."
)
