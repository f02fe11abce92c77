"""User data carrying an EC2NodeClass's `kubelet` settings, in each AMI family's format, the
way Karpenter (aws/karpenter-provider-aws `pkg/providers/amifamily/bootstrap`) writes them:

* AL2023: a nodeadm `NodeConfig` part (`spec.kubelet.config`), the user's user data after it;
* AL2: the user's user data first, then a shell part running `/etc/eks/bootstrap.sh` with
  `--use-max-pods false` (when maxPods is set), `--dns-cluster-ip` and the settings as kubelet
  flags in `--kubelet-extra-args` (`--max-pods=8 --kube-reserved="cpu=200m"`...). The API
  endpoint and CA are left to bootstrap.sh, which reads them from EKS when not given;
* Bottlerocket: the user's TOML settings with `[settings.kubernetes]` keys set over them
  (`max-pods`, `kube-reserved`, `eviction-hard`...), as Karpenter merges them;
* Custom: the user's user data as written (Karpenter adds nothing for Custom either).

Windows families are refused by the policy layer, so they never reach here with `kubelet`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any

import yaml

MIME_BOUNDARY = "//scaler//"
NODEADM_CONTENT_TYPE = "application/node.eks.aws"
BOOTSTRAP = "/etc/eks/bootstrap.sh"

# kubelet field -> (bootstrap.sh kubelet flag, separator of its map entries)
_MAP_FLAGS = (("systemReserved", "--system-reserved", "="),
              ("kubeReserved", "--kube-reserved", "="),
              ("evictionHard", "--eviction-hard", "<"),
              ("evictionSoft", "--eviction-soft", "<"),
              ("evictionSoftGracePeriod", "--eviction-soft-grace-period", "="))
_INT_FLAGS = (("maxPods", "--max-pods"), ("podsPerCore", "--pods-per-core"),
              ("evictionMaxPodGracePeriod", "--eviction-max-pod-grace-period"),
              ("imageGCHighThresholdPercent", "--image-gc-high-threshold"),
              ("imageGCLowThresholdPercent", "--image-gc-low-threshold"))
# kubelet field -> Bottlerocket's `settings.kubernetes` key
_BOTTLEROCKET = {"maxPods": "max-pods", "systemReserved": "system-reserved",
                 "kubeReserved": "kube-reserved", "evictionHard": "eviction-hard",
                 "evictionSoft": "eviction-soft",
                 "evictionSoftGracePeriod": "eviction-soft-grace-period",
                 "evictionMaxPodGracePeriod": "eviction-max-pod-grace-period",
                 "imageGCHighThresholdPercent": "image-gc-high-threshold-percent",
                 "imageGCLowThresholdPercent": "image-gc-low-threshold-percent",
                 "cpuCFSQuota": "cpu-cfs-quota-enforced"}


def with_kubelet(family: str, user_data: str | None, kubelet: Mapping[str, Any],
                 cluster: str) -> str | None:
    """The user data a node of `family` is launched with, `kubelet` applied."""
    if not kubelet:
        return user_data
    if family == "AL2":
        return _mime([*([_part(user_data)] if user_data else []),
                      f"Content-Type: text/x-shellscript\n\n{al2_bootstrap(cluster, kubelet)}"])
    if family == "Bottlerocket":
        return bottlerocket_settings(user_data, kubelet)
    if family == "Custom":
        return user_data
    config = {"apiVersion": "node.eks.aws/v1alpha1", "kind": "NodeConfig",
              "spec": {"kubelet": {"config": dict(kubelet)}}}
    return _mime([f"Content-Type: {NODEADM_CONTENT_TYPE}\n\n"
                  + yaml.safe_dump(config, sort_keys=True),
                  *([_part(user_data)] if user_data else [])])


def _part(user_data: str) -> str:
    kind = ("text/x-shellscript" if user_data.startswith("#!")
            else NODEADM_CONTENT_TYPE if "NodeConfig" in user_data else "text/plain")
    return f"Content-Type: {kind}\n\n{user_data}"


def _mime(parts: list[str]) -> str:
    body = "".join(f"--{MIME_BOUNDARY}\n{p.rstrip()}\n\n" for p in parts)
    return (f'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="{MIME_BOUNDARY}"\n\n'
            f"{body}--{MIME_BOUNDARY}--\n")


def kubelet_flags(kubelet: Mapping[str, Any]) -> list[str]:
    """The kubelet command-line flags of the settings (sorted map entries, so the same
    settings give the same launch template)."""
    flags = [f"{flag}={int(kubelet[key])}" for key, flag in _INT_FLAGS if key in kubelet]
    for key, flag, sep in _MAP_FLAGS:
        entries = kubelet.get(key) or {}
        if entries:
            flags.append(f'{flag}="{",".join(f"{k}{sep}{v}" for k, v in sorted(entries.items()))}"')
    if "cpuCFSQuota" in kubelet:
        flags.append(f"--cpu-cfs-quota={str(bool(kubelet['cpuCFSQuota'])).lower()}")
    return flags


def al2_bootstrap(cluster: str, kubelet: Mapping[str, Any]) -> str:
    lines = [f"{BOOTSTRAP} '{cluster}'"]
    dns = kubelet.get("clusterDNS") or []
    if dns:
        lines.append(f"--dns-cluster-ip '{dns[0]}'")
    if "maxPods" in kubelet:
        lines.append("--use-max-pods false")
    flags = kubelet_flags(kubelet)
    if flags:
        lines.append(f"--kubelet-extra-args '{' '.join(flags)}'")
    return ("#!/bin/bash -xe\n"
            "exec > >(tee /var/log/user-data.log|logger -t user-data -s 2>/dev/console) 2>&1\n"
            + " \\\n".join(lines) + "\n")


def bottlerocket_settings(user_data: str | None, kubelet: Mapping[str, Any]) -> str:
    """The user's TOML (checked by the policy layer) with the kubelet settings over it."""
    doc: dict[str, Any] = tomllib.loads(user_data or "")
    kube = doc.setdefault("settings", {}).setdefault("kubernetes", {})
    for key, name in _BOTTLEROCKET.items():
        if key in kubelet:
            value = kubelet[key]
            # Karpenter writes the image GC thresholds as strings, the rest as typed.
            kube[name] = str(value) if key.startswith("imageGC") else value
    dns = kubelet.get("clusterDNS") or []
    if dns:
        kube["cluster-dns-ip"] = dns[0]
    return toml_text(doc)


def toml_text(doc: Mapping[str, Any]) -> str:
    """A TOML document of tables, strings, integers, booleans and arrays of those."""
    out: list[str] = []
    _table(out, (), doc)
    return "\n".join(out).lstrip("\n") + "\n"


def _table(out: list[str], path: tuple[str, ...], table: Mapping[str, Any]) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, Mapping)}
    if path and (scalars or not table):
        out.append(f"\n[{'.'.join(_key(p) for p in path)}]")
    for key, value in scalars.items():
        out.append(f"{_key(key)} = {_value(value)}")
    for key, value in table.items():
        if isinstance(value, Mapping):
            _table(out, (*path, key), value)


def _key(key: str) -> str:
    bare = key and all(c.isalnum() or c in "-_" for c in key)
    return key if bare else _string(key)


def _string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return _string(str(value))
