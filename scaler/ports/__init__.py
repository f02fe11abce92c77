"""Ports: the small interfaces through which the core's decisions meet the world.

Adapters implement them (`scaler.adapters.*`); the simulated ones are the embedded default.
"""
