"""Pagination of select statements for flask-smorest's ``@blp.paginate()``."""

from sqlalchemy import func, select

from lms.extensions import db


def paginate(stmt, pagination_parameters, *, scalars: bool = True):
    """Run one page of ``stmt`` and tell flask-smorest the total (for X-Pagination).

    Two queries whatever the page: a count and the page itself.
    """
    count_stmt = select(func.count()).select_from(stmt.order_by(None).subquery())
    pagination_parameters.item_count = db.session.scalar(count_stmt)
    page = stmt.limit(pagination_parameters.page_size).offset(pagination_parameters.first_item)
    if scalars:
        return db.session.scalars(page).unique().all()
    return db.session.execute(page).all()
