"""An optional extension of the metrics port: when each OOM kill happened.

`MetricsSource.oom_kills` names the containers killed in a window; sources that can also say
when (Prometheus from the reason series, the usage file from its rows) implement this too, so
strategies that weigh recent history more (the VPA's decay) weigh the kill where it belongs.
Kept out of scaler/ports/metrics.py, whose shape is shared with cost allocation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from scaler.ports.metrics import ContainerRef, Window


@runtime_checkable
class OomKillTimes(Protocol):
    def oom_kill_times(
        self, window: Window, namespace: str | None = None
    ) -> Sequence[tuple[ContainerRef, float]]:
        """(container, unix seconds) for each kill seen in the window, oldest first."""
        ...
