"""Accounts: users, roles, passwords, sessions, activation and API tokens, user import."""
