"""Scheduling simulation: where pending pods go, on existing nodes or on new node claims."""
