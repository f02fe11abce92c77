"""The fence before every mutating call: leadership first, then dry-run."""

from __future__ import annotations

import logging
from collections.abc import Callable

from scaler.ports.fence import NotLeaderError

log = logging.getLogger(__name__)


class ActionFence:
    def __init__(self, *, dry_run: bool = False,
                 is_leader: Callable[[], bool] | None = None) -> None:
        self.dry_run = dry_run
        self._is_leader = is_leader
        self.refused = 0  # actions refused for want of the lease

    def leading(self) -> bool:
        return self._is_leader() if self._is_leader is not None else True

    def allow(self, action: str) -> bool:
        if not self.leading():
            self.refused += 1
            raise NotLeaderError(f"not the leader: refusing to {action}")
        if self.dry_run:
            log.info("dry run: would %s", action)
            return False
        return True
