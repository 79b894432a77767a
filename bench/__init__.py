"""Benchmarks that print numbers: `make bench` (python -m bench)."""
