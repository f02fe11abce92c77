"""Offerings that just failed: an instance type in a zone at a capacity type, for a while.

EC2 answers `InsufficientInstanceCapacity` (and a few like it) per offering; a Spot
interruption warning says the same of a Spot offering. Karpenter keeps such offerings out of
its choices for three minutes, then tries them again; so does this cache.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

# Karpenter's UnavailableOfferingsTTL.
UNAVAILABLE_TTL_SECONDS = 180.0

# Per-override CreateFleet error codes that mean "no capacity for this offering right now"
# (the unfulfillable-capacity codes Karpenter acts on).
CAPACITY_ERROR_CODES = frozenset(
    {
        "InsufficientInstanceCapacity",
        "MaxSpotInstanceCountExceeded",
        "VcpuLimitExceeded",
        "UnfulfillableCapacity",
        "Unsupported",
        "InsufficientFreeAddressesInSubnet",
    }
)

OfferingKey = tuple[str, str, str]  # instance type, zone, capacity type


@dataclass(frozen=True, slots=True)
class Unavailable:
    instance_type: str
    zone: str
    capacity_type: str
    reason: str
    until: float  # on the cache's clock


class UnavailableOfferings:
    """A TTL set of offerings; thread-safe (the interruption poller and launches share it)."""

    def __init__(
        self, ttl: float = UNAVAILABLE_TTL_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[OfferingKey, Unavailable] = {}
        self._lock = threading.Lock()

    def mark(self, instance_type: str, zone: str, capacity_type: str, reason: str) -> None:
        until = self._clock() + self.ttl
        with self._lock:
            self._entries[(instance_type, zone, capacity_type)] = Unavailable(
                instance_type, zone, capacity_type, reason, until
            )
        log.info("offering %s %s %s unavailable for %.0fs: %s",
                 instance_type, zone, capacity_type, self.ttl, reason)

    def is_unavailable(self, instance_type: str, zone: str, capacity_type: str) -> bool:
        key = (instance_type, zone, capacity_type)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return False
            if entry.until <= self._clock():
                del self._entries[key]
                return False
            return True

    def active(self) -> tuple[Unavailable, ...]:
        now = self._clock()
        with self._lock:
            for key in [k for k, e in self._entries.items() if e.until <= now]:
                del self._entries[key]
            return tuple(self._entries.values())
