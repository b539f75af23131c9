"""Security tests: the authorization matrix (issue 6)."""
