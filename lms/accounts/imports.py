"""Bulk import of accounts from a spreadsheet (placeholder until the parser lands)."""
