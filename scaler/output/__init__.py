"""Formatters: one module per output format, shared by every command."""
