"""Right-sizing as a service: workloads from manifests, usage from the metrics port,
recommendations from `scaler.core.rightsizing`, patches for Git."""
