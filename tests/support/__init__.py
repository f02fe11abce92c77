"""Helpers that start real parts for tests (Prometheus, ...)."""
