"""Pagination of select statements for flask-smorest's ``@blp.paginate()``."""

from sqlalchemy import func, select

from lms.core.db import db


def paginate(stmt, pagination_parameters, *, scalars: bool = True, count=None):
    """Run one page of ``stmt`` and tell flask-smorest the total (for X-Pagination).

    Two queries whatever the page: a count and the page itself. ``count`` replaces the
    generic count (every row of ``stmt`` with its joins) when the caller has a cheaper one:
    a statement counting the same rows without the joins that cannot drop any, or the total
    itself as an int when already known. ``stmt`` may also be a function
    ``(limit, offset) -> statement`` that places the page itself (then ``count`` is needed).
    """
    if count is None:
        count = select(func.count()).select_from(stmt.order_by(None).subquery())
    if not isinstance(count, int):
        count = db.session.scalar(count)
    pagination_parameters.item_count = count
    if pagination_parameters.first_item >= pagination_parameters.item_count:
        return []  # past the end; also, a huge page number would overflow OFFSET
    size, first = pagination_parameters.page_size, pagination_parameters.first_item
    page = stmt(size, first) if callable(stmt) else stmt.limit(size).offset(first)
    if scalars:
        return db.session.scalars(page).unique().all()
    return db.session.execute(page).all()
