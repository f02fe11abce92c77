"""Prometheus adapter for the metrics port (cAdvisor and kube-state-metrics series)."""

from scaler.adapters.prometheus.source import PrometheusSource

__all__ = ["PrometheusSource"]
