"""Benchmarks (speed measurements live here, never in unit tests)."""
