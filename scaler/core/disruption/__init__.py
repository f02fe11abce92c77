"""Voluntary disruption: which nodes to remove or replace, and how to do it safely."""
