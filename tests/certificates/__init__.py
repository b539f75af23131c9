"""Certificates: issuance, lifecycle, listing, public verification (and the colleagues'
completion, PDF and Open Badges tests). Shared builders live in ``helpers``."""
