"""Prints how many (route, persona) cells the authorization matrix checked."""

from __future__ import annotations


def pytest_terminal_summary(terminalreporter):
    from tests.security import test_authorization_matrix as matrix

    if not matrix._checked:
        return
    routes = len(matrix.ROUTES)
    personas = len(matrix.PERSONAS)
    terminalreporter.write_sep("-", "authorization matrix")
    terminalreporter.write_line(
        f"authorization matrix: {routes} routes x {personas} personas = "
        f"{routes * personas} cells in the table; {len(matrix._checked)} checked in this run; "
        f"{len(matrix.KNOWN_BUGS)} known authorization bugs, "
        f"{len(matrix.KNOWN_VALIDATION_BEFORE_AUTHORIZATION)} cells validated before "
        "authorization"
    )
