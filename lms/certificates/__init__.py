"""Completion and certificates: eligibility, issuance, PDF, verification, Open Badges 3.0."""
