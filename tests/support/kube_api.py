"""A small Kubernetes API server stand-in for adapter tests: real HTTP, objects in memory.

What it serves, in the API server's shapes (enough for scaler's adapter, not a conformance
target):

* get, list (with `limit`/`continue`), create, PUT (optimistic concurrency on
  `metadata.resourceVersion`: a stale one gets 409 Conflict), merge/strategic-merge PATCH
  (both applied as RFC 7386 merge patches), DELETE, for any resource registered in
  `RESOURCES` (core pods, nodes, events; DaemonSets, PDBs, Leases, scaler.dev NodeClaims,
  karpenter.sh NodePools);
* the `status` subresource (only `status` is taken from the body);
* finalizers: DELETE of an object that has some only sets `deletionTimestamp`; the object
  goes when an update removes the last one;
* watch streams (chunked JSON lines) from a `resourceVersion`, with BOOKMARK events when
  `allowWatchBookmarks=true`; a resourceVersion older than the compacted history gets the
  API server's `ERROR` event with a 410 `Expired` Status, and `expire_watches()` makes every
  open watch end that way (what an API server restart or etcd compaction does to clients);
* `silent`: watches that stay open and send nothing (a silently dropped connection);
* the pod `eviction` subresource (policy/v1 Eviction) checking PodDisruptionBudgets by
  `matchLabels` and `minAvailable`/`maxUnavailable` (integers or percentages): 429 with the
  API server's message when a budget would be violated, else the pod is deleted.

Tests drive it in-process (`put`, `delete`, `objects`, `compact`) and read `requests` to see
what the client did. Start it with `KubeApi().start()`; `url` is `http://127.0.0.1:PORT`.
"""

from __future__ import annotations

import base64
import copy
import json
import math
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.http_server import LocalServer, QuietHandler


@dataclass(frozen=True)
class Resource:
    group_version: str  # "v1" for the core group
    plural: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return self.group_version


RESOURCES: dict[tuple[str, str], Resource] = {
    (r.group_version, r.plural): r
    for r in (
        Resource("v1", "pods", "Pod", True),
        Resource("v1", "nodes", "Node", False),
        Resource("v1", "events", "Event", True),
        Resource("v1", "namespaces", "Namespace", False),
        Resource("v1", "persistentvolumeclaims", "PersistentVolumeClaim", True),
        Resource("v1", "persistentvolumes", "PersistentVolume", False),
        Resource("storage.k8s.io/v1", "storageclasses", "StorageClass", False),
        Resource("scheduling.k8s.io/v1", "priorityclasses", "PriorityClass", False),
        Resource("apps/v1", "daemonsets", "DaemonSet", True),
        Resource("apps/v1", "deployments", "Deployment", True),
        Resource("apps/v1", "statefulsets", "StatefulSet", True),
        Resource("apps/v1", "replicasets", "ReplicaSet", True),
        Resource("batch/v1", "jobs", "Job", True),
        Resource("batch/v1", "cronjobs", "CronJob", True),
        Resource("autoscaling/v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True),
        Resource("policy/v1", "poddisruptionbudgets", "PodDisruptionBudget", True),
        Resource("coordination.k8s.io/v1", "leases", "Lease", True),
        Resource("events.k8s.io/v1", "events", "Event", True),
        Resource("scaler.dev/v1alpha1", "nodeclaims", "NodeClaim", False),
        Resource("karpenter.sh/v1", "nodepools", "NodePool", False),
    )
}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str]
    client: tuple[str, int]  # the client's address and port: one per connection


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code,
        }
        if self.details is not None:
            doc["details"] = self.details
        return doc


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class KubeApi:
    def __init__(self, bookmark_interval: float = 0.5) -> None:
        self.bookmark_interval = bookmark_interval
        self._lock = threading.Condition()
        self._rv = 100
        self._objects: dict[tuple[str, str], dict[tuple[str, str], dict[str, Any]]] = {
            key: {} for key in RESOURCES
        }
        self._log: list[tuple[int, tuple[str, str], str, dict[str, Any]]] = []
        self._compacted = 0  # watches from a resourceVersion below this get 410
        self._expiry = 0  # bumped by expire_watches()
        self._closed = False
        # While set, open and new watches send nothing at all (no events, no bookmarks), as
        # a connection a NAT or load balancer dropped silently looks to the client.
        self.silent = threading.Event()
        self.requests: list[Request] = []
        self._server = LocalServer()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, tls: tuple[str, str] | None = None) -> KubeApi:
        """`tls=(cert, key)` serves HTTPS, as an API server does (in-cluster clients)."""
        api = self

        class Handler(_Handler):
            server_api = api

        # A client killed mid-request (a replica the test kills) is not a server bug.
        self._server.start(Handler, tls=tls, quiet=(ConnectionError,))
        return self

    def stop(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        self._server.stop()

    @property
    def url(self) -> str:
        return self._server.url

    def kubeconfig(self) -> str:
        return json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "test",
            "clusters": [{"name": "test", "cluster": {"server": self.url}}],
            "users": [{"name": "test", "user": {"token": "test-token"}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
        })

    # -- in-process access for tests ---------------------------------------------------

    def put(self, group_version: str, plural: str, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Create or replace an object as a client would (no conflict check)."""
        res = RESOURCES[(group_version, plural)]
        body = copy.deepcopy(dict(obj))
        meta = body.setdefault("metadata", {})
        ns = meta.get("namespace", "default") if res.namespaced else ""
        with self._lock:
            key = (ns, meta["name"])
            old = self._objects[(res.group_version, res.plural)].get(key)
            if old is not None:
                meta["resourceVersion"] = old["metadata"]["resourceVersion"]
                return self._replace(res, ns, meta["name"], body, check=False)
            return self._create(res, ns, body)

    def delete(self, group_version: str, plural: str, name: str, namespace: str = "") -> None:
        res = RESOURCES[(group_version, plural)]
        with self._lock:
            self._delete(res, namespace if res.namespaced else "", name)

    def objects(self, group_version: str, plural: str) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(o) for o in self._objects[(group_version, plural)].values()]

    def get(self, group_version: str, plural: str, name: str,
            namespace: str = "") -> dict[str, Any] | None:
        with self._lock:
            found = self._objects[(group_version, plural)].get((namespace, name))
            return copy.deepcopy(found) if found else None

    def compact(self) -> None:
        """Forget the event history: a watch from an older resourceVersion gets 410 Gone."""
        with self._lock:
            self._compacted = self._rv + 1
            self._log.clear()

    def expire_watches(self) -> None:
        """Compact and end every open watch with a 410 Expired error event."""
        with self._lock:
            self.compact()
            self._expiry += 1
            self._lock.notify_all()

    @property
    def resource_version(self) -> int:
        with self._lock:
            return self._rv

    def count(self, method: str, path_part: str, **query: str) -> int:
        return sum(
            1 for r in list(self.requests)
            if r.method == method and path_part in r.path
            and all(r.query.get(k) == v for k, v in query.items())
        )

    # -- storage (caller holds the lock) -----------------------------------------------

    def _bump(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _record(self, res: Resource, kind: str, obj: dict[str, Any]) -> None:
        self._log.append((self._rv, (res.group_version, res.plural), kind, copy.deepcopy(obj)))
        self._lock.notify_all()

    def _stamp(self, res: Resource, obj: dict[str, Any]) -> None:
        obj["apiVersion"] = res.api_version
        obj["kind"] = res.kind

    def _create(self, res: Resource, ns: str, body: dict[str, Any]) -> dict[str, Any]:
        meta = body.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        name = meta.get("name")
        if not name:
            raise ApiError(422, "Invalid", f"{res.kind} is invalid: metadata.name: Required value")
        store = self._objects[(res.group_version, res.plural)]
        if (ns, name) in store:
            raise ApiError(409, "AlreadyExists", f'{res.plural} "{name}" already exists',
                           {"name": name, "kind": res.plural})
        if res.namespaced:
            meta["namespace"] = ns
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = _now()
        meta["resourceVersion"] = self._bump()
        self._stamp(res, body)
        store[(ns, name)] = body
        self._record(res, "ADDED", body)
        return copy.deepcopy(body)

    def _replace(self, res: Resource, ns: str, name: str, body: dict[str, Any],
                 check: bool = True) -> dict[str, Any]:
        store = self._objects[(res.group_version, res.plural)]
        old = store.get((ns, name))
        if old is None:
            raise ApiError(404, "NotFound", f'{res.plural} "{name}" not found')
        meta = body.setdefault("metadata", {})
        sent = meta.get("resourceVersion")
        if check and sent and sent != old["metadata"]["resourceVersion"]:
            raise ApiError(
                409, "Conflict",
                f'Operation cannot be fulfilled on {res.plural} "{name}": the object has been '
                "modified; please apply your changes to the latest version and try again")
        for kept in ("uid", "creationTimestamp", "namespace", "deletionTimestamp"):
            if kept in old["metadata"]:
                meta[kept] = old["metadata"][kept]
        meta["name"] = name
        meta["resourceVersion"] = self._bump()
        self._stamp(res, body)
        store[(ns, name)] = body
        self._record(res, "MODIFIED", body)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            return self._delete(res, ns, name)  # the last finalizer went: now it goes
        return copy.deepcopy(body)

    def _delete(self, res: Resource, ns: str, name: str) -> dict[str, Any]:
        store = self._objects[(res.group_version, res.plural)]
        current = store.get((ns, name))
        if current is not None and current["metadata"].get("finalizers"):
            # Finalizers hold the object: it is only marked for deletion.
            if not current["metadata"].get("deletionTimestamp"):
                marked = copy.deepcopy(current)
                marked["metadata"]["deletionTimestamp"] = _now()
                return self._replace(res, ns, name, marked, check=False)
            return copy.deepcopy(current)
        old = store.pop((ns, name), None)
        if old is None:
            raise ApiError(404, "NotFound", f'{res.plural} "{name}" not found')
        old["metadata"]["resourceVersion"] = self._bump()
        self._record(res, "DELETED", old)
        return copy.deepcopy(old)

    def _list(self, res: Resource, ns: str | None, query: Mapping[str, str]) -> dict[str, Any]:
        store = self._objects[(res.group_version, res.plural)]
        items = [o for (ons, _), o in sorted(store.items()) if ns is None or ons == ns]
        if query.get("labelSelector"):
            match = _selector(query["labelSelector"])
            items = [o for o in items if match(o.get("metadata", {}).get("labels") or {})]
        start = 0
        token = query.get("continue")
        rv = str(self._rv)
        if token:
            state = json.loads(base64.b64decode(token))
            start, rv = int(state["start"]), state["rv"]
            if int(rv) < self._compacted:
                raise ApiError(410, "Expired", "The provided continue parameter is too old "
                               "to display a consistent list result.")
        limit = int(query.get("limit") or 0)
        end = start + limit if limit else len(items)
        meta: dict[str, Any] = {"resourceVersion": rv}
        if end < len(items):
            meta["continue"] = base64.b64encode(
                json.dumps({"start": end, "rv": rv}).encode()).decode()
            meta["remainingItemCount"] = len(items) - end
        return {"kind": f"{res.kind}List", "apiVersion": res.api_version, "metadata": meta,
                "items": [copy.deepcopy(o) for o in items[start:end]]}

    # -- evictions ---------------------------------------------------------------------

    def _evict(self, ns: str, name: str) -> dict[str, Any]:
        pods = self._objects[("v1", "pods")]
        pod = pods.get((ns, name))
        if pod is None:
            raise ApiError(404, "NotFound", f'pods "{name}" not found')
        labels = pod["metadata"].get("labels") or {}
        for (pns, _), pdb in self._objects[("policy/v1", "poddisruptionbudgets")].items():
            if pns != ns:
                continue
            spec = pdb.get("spec") or {}
            wanted = ((spec.get("selector") or {}).get("matchLabels")) or {}
            if any(labels.get(k) != v for k, v in wanted.items()):
                continue
            covered = [p for (qns, _), p in pods.items() if qns == ns and all(
                (p["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())]
            healthy = sum(1 for p in covered if (p.get("spec") or {}).get("nodeName"))
            expected = len(covered)
            if "minAvailable" in spec:
                need = _scaled(spec["minAvailable"], expected, up=True)
                allowed = healthy - need
            else:
                allowed = _scaled(spec.get("maxUnavailable", 0), expected, up=True) - (
                    expected - healthy)
                need = expected - _scaled(spec.get("maxUnavailable", 0), expected, up=True)
            if allowed < 1:
                pdb_name = pdb["metadata"]["name"]
                raise ApiError(
                    429, "TooManyRequests",
                    "Cannot evict pod as it would violate the pod's disruption budget.",
                    {"causes": [{
                        "reason": "DisruptionBudget",
                        "message": f"The disruption budget {pdb_name} needs {need} healthy "
                                   f"pods and has {healthy} currently",
                    }]},
                )
        self._delete(RESOURCES[("v1", "pods")], ns, name)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "code": 201}

    # -- watches -----------------------------------------------------------------------

    def _watch(self, res: Resource, ns: str | None, query: Mapping[str, str]
               ) -> Iterator[dict[str, Any]]:
        since = int(query.get("resourceVersion") or 0)
        bookmarks = query.get("allowWatchBookmarks") == "true"
        timeout = float(query.get("timeoutSeconds") or 1800)
        deadline = time.monotonic() + timeout
        key = (res.group_version, res.plural)
        with self._lock:
            expiry = self._expiry
            if since and since < self._compacted:
                yield _expired(since)
                return
            if not since:
                since = self._rv
        last_bookmark = time.monotonic()
        while True:
            with self._lock:
                if self._closed:
                    return
                if self._expiry != expiry:
                    yield _expired(since)
                    return
                batch = [(rv, kind, obj) for rv, k, kind, obj in self._log
                         if rv > since and k == key
                         and (ns is None or obj["metadata"].get("namespace") == ns)]
                current = self._rv
                if not batch:
                    self._lock.wait(0.05)
            if self.silent.is_set():
                if time.monotonic() >= deadline:
                    return
                time.sleep(0.05)
                continue
            for rv, kind, obj in batch:
                since = max(since, rv)
                yield {"type": kind, "object": obj}
            if not batch:
                since = max(since, current) if bookmarks else since
            now = time.monotonic()
            if now >= deadline:
                return
            if bookmarks and now - last_bookmark >= self.bookmark_interval:
                last_bookmark = now
                yield {"type": "BOOKMARK", "object": {
                    "kind": res.kind, "apiVersion": res.api_version,
                    "metadata": {"resourceVersion": str(since),
                                 "annotations": {"k8s.io/initial-events-end": "true"}}}}


def _selector(text: str) -> Any:
    """The API server's label selector: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`,
    `k`, `!k`, comma-separated (commas inside parentheses belong to the set). A malformed one
    is a 400, as the API server answers."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    tests = []
    for raw in parts:
        part = raw.strip()
        words = part.split()
        if len(words) >= 3 and words[1] in ("in", "notin"):
            values = {v.strip() for v in part.split("(", 1)[1].rstrip(")").split(",")}
            key, neg = words[0], words[1] == "notin"
            tests.append(lambda lab, k=key, vs=values, n=neg: (lab.get(k) in vs) != n)
        elif "!=" in part:
            key, value = (x.strip() for x in part.split("!=", 1))
            tests.append(lambda lab, k=key, v=value: lab.get(k) != v)
        elif "=" in part:
            key, value = (x.strip() for x in part.replace("==", "=").split("=", 1))
            tests.append(lambda lab, k=key, v=value: lab.get(k) == v)
        elif part.startswith("!") and part[1:].strip():
            absent = part[1:].strip()
            tests.append(lambda lab, k=absent: k not in lab)
        elif part and " " not in part:
            tests.append(lambda lab, k=part: k in lab)
        else:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {raw!r}")
    return lambda labels: all(t(labels) for t in tests)


def _expired(since: int) -> dict[str, Any]:
    return {"type": "ERROR", "object": ApiError(
        410, "Expired", f"too old resource version: {since}").status()}


def _scaled(value: Any, total: int, up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        exact = total * int(value[:-1]) / 100
        return math.ceil(exact) if up else math.floor(exact)
    return int(value)


class _Handler(QuietHandler):
    server_api: KubeApi
    protocol_version = "HTTP/1.1"

    def _send(self, code: int, doc: Any) -> None:
        self.reply(code, json.dumps(doc).encode(), {"Content-Type": "application/json"})

    def _body(self) -> Any:
        raw = self.read_body()
        return json.loads(raw) if raw else {}

    def serve(self, method: str) -> None:
        api = self.server_api
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        api.requests.append(Request(method, parts.path, query, self.client_address))
        body = self._body() if method in ("POST", "PUT", "PATCH") else None
        try:
            res, ns, name, sub = _route(parts.path)
            if method == "GET" and name is None and query.get("watch") in ("true", "1"):
                self._stream(api._watch(res, ns, query))
                return
            with api._lock:
                code, doc = self._dispatch(api, method, res, ns, name, sub, query, body)
        except ApiError as err:
            self._send(err.code, err.status())
            return
        self._send(code, doc)

    def _dispatch(self, api: KubeApi, method: str, res: Resource, ns: str | None,
                  name: str | None, sub: str | None, query: Mapping[str, str],
                  body: Any) -> tuple[int, Any]:
        scope = (ns or "") if res.namespaced else ""
        if name is None:
            if method == "GET":
                return 200, api._list(res, ns if res.namespaced else None, query)
            if method == "POST":
                if res.namespaced and ns is None:
                    raise ApiError(405, "MethodNotAllowed", "create needs a namespace")
                return 201, api._create(res, scope, body)
            raise ApiError(405, "MethodNotAllowed", f"{method} on a collection")
        store = api._objects[(res.group_version, res.plural)]
        if sub == "eviction" and res.plural == "pods" and method == "POST":
            return 201, api._evict(scope, name)
        if sub not in (None, "status"):
            raise ApiError(404, "NotFound", f"no subresource {sub}")
        if method == "GET":
            found = store.get((scope, name))
            if found is None:
                raise ApiError(404, "NotFound", f'{res.plural} "{name}" not found')
            return 200, copy.deepcopy(found)
        if method == "DELETE":
            return 200, api._delete(res, scope, name)
        old = store.get((scope, name))
        if old is None:
            raise ApiError(404, "NotFound", f'{res.plural} "{name}" not found')
        if method == "PUT":
            new = body
        else:
            ctype = self.headers.get("Content-Type", "")
            if "json-patch" in ctype:
                raise ApiError(415, "UnsupportedMediaType", "JSON patch is not served here")
            new = merge_patch(old, body)
            new.setdefault("metadata", {})["resourceVersion"] = old["metadata"][
                "resourceVersion"]
        if sub == "status":  # only status changes through the subresource
            new = {**copy.deepcopy(old), "status": new.get("status")}
            new["metadata"]["resourceVersion"] = (body.get("metadata") or {}).get(
                "resourceVersion") or old["metadata"]["resourceVersion"]
        elif "status" in old and res.plural in ("nodeclaims", "nodepools"):
            new["status"] = old["status"]  # the main resource ignores status (subresource on)
        return 200, api._replace(res, scope, name, new, check=method == "PUT" or sub is not None)

    def _stream(self, events: Iterator[dict[str, Any]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for event in events:
                self.write_chunk(json.dumps(event).encode() + b"\n")
            self.end_chunks()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def _route(path: str) -> tuple[Resource, str | None, str | None, str | None]:
    segs = [s for s in path.split("/") if s]
    if segs[:2] == ["api", "v1"]:
        gv, rest = "v1", segs[2:]
    elif segs[:1] == ["apis"] and len(segs) >= 3:
        gv, rest = f"{segs[1]}/{segs[2]}", segs[3:]
    else:
        raise ApiError(404, "NotFound", f"the server could not find the requested path {path}")
    ns = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        ns, rest = rest[1], rest[2:]
    if not rest:
        raise ApiError(404, "NotFound", f"the server could not find the requested path {path}")
    res = RESOURCES.get((gv, rest[0]))
    if res is None:
        raise ApiError(404, "NotFound", f"the server could not find the requested resource "
                       f"({gv} {rest[0]})")
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    return res, ns, name, sub
