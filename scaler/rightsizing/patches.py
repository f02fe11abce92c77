"""Recommendations as files to commit: kustomize strategic-merge patches, or in-place resize
patches for running pods (the `resize` subresource, Kubernetes 1.35+).

kustomize: one patch per workload (`<namespace>-<kind>-<name>.yaml`), containers merged by
name, only the changed resources written (a removed limit is written as null, which a
strategic merge deletes), and a `kustomization.yaml` whose `resources` are the inputs
(a directory with its own kustomization, or the manifest files) and whose `patches` are the
patches; an existing `kustomization.yaml` there is merged into (its resources, patches and
other fields kept, ours added). A file scaler did not write is never overwritten: the
command refuses before writing anything. Workloads seen only as pods (no manifest among the
inputs) get their patch under `cluster/`, for `kubectl patch --type strategic --patch-file`.

resize: one patch per running pod under `resize/` and `resize.sh` with the kubectl commands.
In-place resize cannot change a pod's QoS class; pods whose class would change are skipped
and named in the script.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scaler.core.money import money
from scaler.core.quantity import format_bytes, format_cores
from scaler.core.rightsizing import CurrentResources, Recommendation
from scaler.errors import UserError
from scaler.kube_yaml import load_one
from scaler.rightsizing.report import Report, Row
from scaler.rightsizing.workloads import CONTAINERS_PATH, ContainerSpec, Workload

KUSTOMIZATION = ("kustomization.yaml", "kustomization.yml", "Kustomization")


@dataclass(frozen=True)
class Written:
    kustomize: tuple[Path, ...] = ()  # patches listed in kustomization.yaml
    cluster: tuple[Path, ...] = ()  # patches for workloads without a manifest
    resize: tuple[Path, ...] = ()
    skipped: tuple[str, ...] = ()  # why something was not written


def container_patch(cur: CurrentResources, rec: Recommendation) -> dict[str, Any] | None:
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    if rec.change_cpu and rec.cpu_request is not None:
        requests["cpu"] = format_cores(rec.cpu_request)
        if rec.cpu_limit != cur.cpu_limit:
            limits["cpu"] = format_cores(rec.cpu_limit)
    if rec.change_memory and rec.memory_request is not None:
        requests["memory"] = format_bytes(rec.memory_request)
        if rec.memory_limit != cur.memory_limit:
            limits["memory"] = format_bytes(rec.memory_limit)
    if not requests and not limits:
        return None
    resources: dict[str, Any] = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return resources


def workload_patch(w: Workload, rows: Sequence[Row]) -> dict[str, Any] | None:
    containers = []
    for r in rows:
        body = container_patch(r.container.current, r.recommendation)
        if body is not None:
            containers.append({"name": r.container.name, "resources": body})
    if not containers:
        return None
    meta: dict[str, Any] = {"name": w.name, "namespace": w.namespace}
    doc: dict[str, Any] = {"apiVersion": w.api_version, "kind": w.kind, "metadata": meta}
    node = doc
    path = CONTAINERS_PATH[w.kind]
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = containers
    return doc


def _header(w: Workload, rows: Sequence[Row]) -> str:
    lines = [f"# scaler rightsize: {w.kind} {w.namespace}/{w.name}"]
    for r in rows:
        rec = r.recommendation
        if not rec.changes:
            continue
        lines.append(f"# {r.container.name} ({rec.strategy}, risk {rec.risk}): {rec.reason}")
        lines.extend(f"#   warning: {x}" for x in rec.warnings)
        lines.append(f"#   expected saving {money(r.saving)}/month")
    return "\n".join(lines) + "\n"


def _dump(doc: Any) -> str:
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def _by_workload(report: Report) -> dict[str, tuple[Workload, list[Row]]]:
    out: dict[str, tuple[Workload, list[Row]]] = {}
    for r in report.rows:
        out.setdefault(r.workload.key, (r.workload, []))[1].append(r)
    return out


def _resources(inputs: Sequence[Path], files: set[str], out: Path) -> list[str]:
    """kustomize `resources` for the patched workloads: a directory input that is itself a
    kustomization, else the manifest files (relative to the patches directory)."""
    found: list[str] = []
    for given in inputs:
        if given.is_dir() and any((given / k).is_file() for k in KUSTOMIZATION):
            if any(Path(f).resolve().is_relative_to(given.resolve()) for f in files):
                found.append(os.path.relpath(given.resolve(), out.resolve()))
    for f in sorted(files):
        if not any(
            Path(f).resolve().is_relative_to(g.resolve())
            for g in inputs
            if g.is_dir() and any((g / k).is_file() for k in KUSTOMIZATION)
        ):
            found.append(os.path.relpath(Path(f).resolve(), out.resolve()))
    return found


def write_kustomize(report: Report, out: Path, inputs: Sequence[Path]) -> Written:
    _prepare(out)
    listed: list[Path] = []
    cluster: list[Path] = []
    files: set[str] = set()
    pending: list[tuple[Path, str]] = []
    merged: Path | None = None
    for w, rows in _by_workload(report).values():
        doc = workload_patch(w, rows)
        if doc is None:
            continue
        name = f"{w.namespace}-{w.kind.lower()}-{w.name}.yaml"
        if w.from_manifest:
            target = out / name
            listed.append(target)
            files.add(w.file)
        else:
            target = out / "cluster" / name
            cluster.append(target)
        pending.append((target, _header(w, rows) + _dump(doc)))
    if listed:
        kustomization: dict[str, Any] = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": _resources(inputs, files, out),
            "patches": [{"path": p.name} for p in listed],
        }
        path = out / "kustomization.yaml"
        if path.exists():
            kustomization = _merged(path, kustomization)
            merged = path
        pending.append((path, KUSTOMIZATION_HEADER + _dump(kustomization)))
    _commit(pending, merged)
    return Written(kustomize=tuple(listed), cluster=tuple(cluster))


KUSTOMIZATION_HEADER = (
    "# Written by scaler rightsize --write-patches: the inputs with the recommended\n"
    "# requests and limits. Build with `kubectl kustomize` (or kustomize build).\n"
)
# The first line of every file scaler writes here: such a file may be written again.
_OURS = ("# scaler rightsize:", "# Written by scaler rightsize", "#!/bin/sh\n# In-place resize")


def _merged(path: Path, ours: dict[str, Any]) -> dict[str, Any]:
    """An existing kustomization.yaml with our resources and patches added: nothing of it
    is dropped (its comments aside), and entries it already has are not repeated."""
    existing = load_one(path, str(path))
    if existing is None:
        return ours
    if not isinstance(existing, dict):
        raise UserError("expected a Kustomization (a mapping); not overwriting it",
                        file=str(path), field="--write-patches")
    merged = dict(existing)
    for key in ("resources", "patches"):
        have = merged.get(key)
        if have is None:
            have = []
        if not isinstance(have, list):
            raise UserError(f"expected a list; not overwriting {path.name}", file=str(path),
                            field=key)
        merged[key] = have + [item for item in ours[key] if item not in have]
    merged.setdefault("apiVersion", ours["apiVersion"])
    merged.setdefault("kind", ours["kind"])
    return merged


def _commit(pending: Sequence[tuple[Path, str]], merged: Path | None = None) -> None:
    """Write every file, after checking that none of them would replace a file scaler did
    not write (nothing half-done: a refusal comes before the first write)."""
    for target, _ in pending:
        if target == merged:
            continue  # an existing kustomization.yaml, merged into
        if target.exists() and not _ours(target):
            raise UserError(
                "exists and was not written by scaler; not overwriting it (move it, or "
                "write the patches to another directory)",
                file=str(target), field="--write-patches",
            )
    for target, text in pending:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        except OSError as err:
            raise UserError(f"cannot write: {err.strerror or err}", file=str(target),
                            field="--write-patches") from None


def _ours(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            head = f.read(200).decode("utf-8", "replace")
    except OSError:
        return False
    return path.is_file() and head.startswith(_OURS)


def qos(res: Sequence[CurrentResources]) -> str:
    if all(
        c.cpu_request is None
        and c.cpu_limit is None
        and c.memory_request is None
        and c.memory_limit is None
        for c in res
    ):
        return "BestEffort"
    if all(
        c.cpu_limit is not None
        and c.memory_limit is not None
        and c.cpu_request == c.cpu_limit
        and c.memory_request == c.memory_limit
        for c in res
    ):
        return "Guaranteed"
    return "Burstable"


def _after(spec: ContainerSpec, rec: Recommendation) -> CurrentResources:
    c = spec.current
    cpu_r, cpu_l, mem_r, mem_l = c.cpu_request, c.cpu_limit, c.memory_request, c.memory_limit
    if rec.change_cpu and rec.cpu_request is not None:
        cpu_r, cpu_l = rec.cpu_request, rec.cpu_limit
    if rec.change_memory and rec.memory_request is not None:
        mem_r, mem_l = rec.memory_request, rec.memory_limit
    return CurrentResources(cpu_r, cpu_l, mem_r, mem_l)


def write_resize(report: Report, out: Path, pods: Mapping[str, Sequence[str]]) -> Written:
    """`pods`: workload key -> running pod names (from the inputs or the metrics)."""
    _prepare(out)
    pending: list[tuple[Path, str]] = []
    written: list[Path] = []
    skipped: list[str] = []
    script = [
        "#!/bin/sh",
        "# In-place resize (Kubernetes 1.35+): no restart where the container's resizePolicy",
        "# allows it. Written by scaler rightsize --write-patches --patch-format resize.",
        "set -e",
    ]
    for w, rows in _by_workload(report).values():
        containers = []
        for r in rows:
            body = container_patch(r.container.current, r.recommendation)
            if body is not None:
                containers.append({"name": r.container.name, "resources": body})
        if not containers:
            continue
        before = qos([c.current for c in w.containers])
        recs = {r.container.name: r.recommendation for r in rows}
        after = qos(
            [_after(c, recs[c.name]) if c.name in recs else c.current for c in w.containers]
        )
        if before != after:
            skipped.append(
                f"{w.key}: QoS class would change from {before} to {after}, which in-place "
                "resize refuses; use the kustomize patch (pods are recreated)"
            )
            continue
        names = pods.get(w.key, ())
        if not names:
            skipped.append(f"{w.key}: no running pods known")
            continue
        for pod in names:
            doc = {"spec": {"containers": containers}}
            target = out / "resize" / f"{w.namespace}-{pod}.yaml"
            pending.append((target, _header(w, rows) + _dump(doc)))
            written.append(target)
            script.append(
                f"kubectl patch pod {pod} -n {w.namespace} --subresource resize "
                f"--type strategic --patch-file resize/{target.name}"
            )
    script.extend(f"# skipped {s}" for s in skipped)
    pending.append((out / "resize.sh", "\n".join(script) + "\n"))
    _commit(pending)
    return Written(resize=tuple(written), skipped=tuple(skipped))


def _prepare(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UserError("not a directory", field="--write-patches", file=str(out))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(
            f"cannot create the directory: {err.strerror}", file=str(out), field="--write-patches"
        ) from None
