"""scaler: cost-aware autoscaling and right-sizing for Kubernetes."""

__version__ = "0.1.0"
