"""Pending-pod batching, like Karpenter's: a window that closes after `idle` seconds with no
new pending pod, or `maximum` seconds after it opened, so a burst becomes one decision."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Batcher:
    def __init__(self, idle: float = 1.0, maximum: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if idle <= 0 or maximum < idle:
            raise ValueError("need 0 < idle <= maximum")
        self.idle = idle
        self.maximum = maximum
        self.clock = clock
        self._opened: float | None = None
        self._last = 0.0
        self._lock = threading.Lock()

    def trigger(self) -> None:
        """A pending pod appeared or changed: open the window, or keep it open."""
        now = self.clock()
        with self._lock:
            if self._opened is None:
                self._opened = now
            self._last = now

    @property
    def open(self) -> bool:
        with self._lock:
            return self._opened is not None

    def ready(self) -> bool:
        now = self.clock()
        with self._lock:
            if self._opened is None:
                return False
            return now - self._last >= self.idle or now - self._opened >= self.maximum

    def take(self) -> bool:
        """True once when the window is ready, and close it."""
        if not self.ready():
            return False
        with self._lock:
            self._opened = None
        return True
