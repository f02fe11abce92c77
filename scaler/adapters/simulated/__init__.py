"""Simulated cloud and cluster: the real decision code runs against these with no account."""

from scaler.adapters.simulated.cloud import SimulatedCloud
from scaler.adapters.simulated.cluster import SimulatedCluster
from scaler.adapters.simulated.managed import SimulatedManagedCluster
from scaler.adapters.simulated.metrics import SeriesMetricsSource

__all__ = [
    "SeriesMetricsSource", "SimulatedCloud", "SimulatedCluster", "SimulatedManagedCluster",
]
