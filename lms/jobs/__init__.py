"""Background jobs: long work accepted with 202 Accepted, its progress and result."""
