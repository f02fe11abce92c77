"""The snapshot adapter: `kubectl get -o yaml|json` output to the core's `Snapshot`."""

from scaler.snapshot.loader import load_snapshot

__all__ = ["load_snapshot"]
