"""Numerical solvers the core calls as libraries."""
