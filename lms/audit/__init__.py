"""Tamper-evident audit log: every event is hash-chained to the previous one."""
