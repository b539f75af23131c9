"""Reading the audit log (admins)."""

from flask_smorest import Blueprint
from sqlalchemy import select

from lms.audit.models import AuditEvent
from lms.audit.schemas import AuditEventArgs, AuditEventOut
from lms.core.auth import load
from lms.core.pagination import paginate

blp = Blueprint(
    "audit",
    __name__,
    url_prefix="/api/v1/audit-events",
    description="The tamper-evident audit log (admins).",
)


@blp.route("")
@load(roles="admin")
@blp.arguments(AuditEventArgs, location="query")
@blp.response(200, AuditEventOut(many=True))
@blp.paginate()
def list_events(args, pagination_parameters):
    """Audit events, newest first, filtered by entity, action or actor."""
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc())
    for name, value in args.items():
        stmt = stmt.where(getattr(AuditEvent, name) == value)
    return paginate(stmt, pagination_parameters)
