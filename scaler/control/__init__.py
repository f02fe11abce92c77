"""Carrying decisions out through the cluster and cloud ports: the provisioning step and the
disruption executor, one implementation for `scaler run` (live or simulated) and for the
simulations. Layer: above core and ports (it imports nothing else of scaler), below the
adapters, simulation and runtime that call it."""
