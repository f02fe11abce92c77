"""The fence every mutating call passes: leadership and dry-run, checked at the last moment."""

from __future__ import annotations

from typing import Protocol


class NotLeaderError(Exception):
    """This replica does not hold the lease (any more): it must not act."""


class Fence(Protocol):
    def allow(self, action: str) -> bool:
        """True: go ahead. False: dry run (the caller logs what it would do and does nothing).
        Raises NotLeaderError when this replica does not hold the lease."""
        ...

    def leading(self) -> bool:
        """Whether this replica may speak for the controller (events, status)."""
        ...


class OpenFence:
    """No election, no dry run: every action goes ahead (tests, one-shot tools)."""

    def allow(self, action: str) -> bool:
        return True

    def leading(self) -> bool:
        return True
