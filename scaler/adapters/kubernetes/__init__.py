"""The Kubernetes adapter: informers into scaler's own cache, writes through a fence,
NodeClaims, Events and leader election, on the official `kubernetes` client."""

from scaler.adapters.kubernetes.cache import WATCHED, ClusterCache, Kind
from scaler.adapters.kubernetes.client import Kube, KubeApiError, KubeSettings, load_configuration
from scaler.adapters.kubernetes.cluster import KubernetesCluster
from scaler.adapters.kubernetes.events import EventRecorder
from scaler.adapters.kubernetes.informer import Informers, Reflector, WatchSettings
from scaler.adapters.kubernetes.leader import ElectionSettings, LeaderElector

__all__ = [
    "WATCHED",
    "ClusterCache",
    "ElectionSettings",
    "EventRecorder",
    "Informers",
    "Kind",
    "Kube",
    "KubeApiError",
    "KubeSettings",
    "KubernetesCluster",
    "LeaderElector",
    "Reflector",
    "WatchSettings",
    "load_configuration",
]
