"""The embedded default: the real decision code on a snapshot and a simulated cloud."""

from scaler.simulation.provision import SimulationInput, provision, run_simulation

__all__ = ["SimulationInput", "provision", "run_simulation"]
