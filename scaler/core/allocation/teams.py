"""Which team a container belongs to, from the cost-allocation policy's rules."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass

from scaler.core.allocation.model import ContainerInput

_NOT_PROM = re.compile(r"[^a-zA-Z0-9_]")


def prometheus_label(key: str) -> str:
    """A Kubernetes label key as kube-state-metrics writes it (`app.kubernetes.io/name` ->
    `app_kubernetes_io_name`), so rules match labels read from either source."""
    return _NOT_PROM.sub("_", key)


def label_value(labels: Mapping[str, str], key: str) -> str | None:
    if key in labels:
        return labels[key]
    return labels.get(prometheus_label(key))


@dataclass(frozen=True, slots=True)
class TeamRules:
    label_key: str | None = None
    label_object: str = "Pod"  # Pod | Namespace
    namespaces: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (team, patterns)
    unallocated: str = "unallocated"

    def team_of(self, c: ContainerInput) -> str:
        if self.label_key:
            labels = c.namespace_labels if self.label_object == "Namespace" else c.labels
            value = label_value(labels, self.label_key)
            if value:
                return value
        for team, patterns in self.namespaces:
            if any(fnmatch.fnmatchcase(c.namespace, p) for p in patterns):
                return team
        return self.unallocated
