"""Adapters: implementations of the ports (simulated ones are the embedded default)."""
