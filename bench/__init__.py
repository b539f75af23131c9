"""Benchmarks of issue 7 against their floors: ``python -m bench`` (``make bench``).

See docs/benchmarks.md for the method and the latest results.
"""
