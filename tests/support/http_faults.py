"""A small reusable HTTP fault proxy for chaos tests: 127.0.0.1 only, bounded.

`HttpFaultProxy(target).start()` forwards every request to `target` (an `http://` URL)
unchanged, streaming chunked answers (Kubernetes watches) line by line, except those a
`Fault` picks. A fault matches on method and a path (or body) substring, is active in a
window of the proxy's schedule (`start`/`stop` seconds after `begin()`, or while switched
on), picks every n-th match (`every=2`: half of the calls) and fires at most `limit` times.
What it does:

* `status`: answer that HTTP status with `body` and `headers` (500, 503, 429 with a
  `Retry-After`) without forwarding;
* `gone`: a watch gets the API server's `ERROR` event with a 410 Expired Status (what etcd
  compaction does), any other call an HTTP 410;
* `latency`: wait that long, then forward;
* `reset`: close the client's connection with an RST (SO_LINGER 0), nothing answered.

`memo(substring)`: answers to requests whose body holds it are kept and replayed for the
same request (read-only catalogue calls moto is slow to answer, for tests that restart
their client often); `ignore` names form parameters a request is the same without (a
`StartTime` of "now").

Every request is recorded (`requests`: time, method, path, what was done) so a test can say
what its client sent and what it got.
"""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tests.support.http_server import LocalServer, QuietHandler

MAX_LATENCY = 30.0  # no fault holds a request longer than this
MAX_FIRES = 100_000


@dataclass
class Fault:
    name: str
    status: int | None = None
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    gone: bool = False
    latency: float = 0.0
    reset: bool = False
    method: str | None = None  # None: any
    path: str = ""  # a substring of the path and query ("" matches all)
    exclude: str = ""  # requests whose path holds this substring are never picked
    body_contains: bytes = b""  # a substring of the request body (AWS query actions)
    watch: bool | None = None  # True: only watches; False: never watches
    every: int = 1  # fire on every n-th matching request
    start: float = 0.0  # seconds after begin()
    stop: float | None = None  # seconds after begin(); None: until turned off
    limit: int = MAX_FIRES
    enabled: bool = True
    seen: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.latency <= MAX_LATENCY:
            raise ValueError(f"latency must be within [0, {MAX_LATENCY}] s")
        if self.every < 1 or not 0 < self.limit <= MAX_FIRES:
            raise ValueError("every must be >= 1 and limit within (0, 100000]")


@dataclass(frozen=True)
class Seen:
    at: float
    method: str
    path: str
    action: str  # "forwarded" or the name of the fault that fired
    body: bytes = b""  # the request body's first 4 KiB (AWS query calls carry it there)


class HttpFaultProxy:
    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError("the fault proxy only fronts http://127.0.0.1 servers")
        self.target_host = "127.0.0.1"
        self.target_port = parts.port or 80
        self.faults: list[Fault] = []
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._began = time.monotonic()
        self._server = LocalServer()
        self.memo_bodies: list[bytes] = []
        self.memo_ignore: set[bytes] = set()
        self.memos: dict[tuple[str, str, bytes], tuple[int, list[tuple[str, str]], bytes]] = {}

    # -- control -----------------------------------------------------------------------

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def memo(self, body_contains: bytes, ignore: tuple[bytes, ...] = ()) -> None:
        with self._lock:
            self.memo_bodies.append(body_contains)
            self.memo_ignore.update(ignore)

    def memo_key(self, body: bytes) -> bytes:
        """The form-encoded body less the parameters memo() was told to ignore."""
        return b"&".join(kv for kv in body.split(b"&")
                         if kv.split(b"=", 1)[0] not in self.memo_ignore)

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def begin(self) -> None:
        """Start the schedule's clock: faults' `start`/`stop` count from now."""
        with self._lock:
            self._began = time.monotonic()

    def fired(self, name: str) -> int:
        with self._lock:
            return sum(f.fired for f in self.faults if f.name == name)

    def _pick(self, method: str, path: str, body: bytes, watch: bool) -> Fault | None:
        now = time.monotonic() - self._began
        with self._lock:
            for f in self.faults:
                if not f.enabled or f.fired >= f.limit or now < f.start or (
                        f.stop is not None and now >= f.stop):
                    continue
                if f.method and f.method != method or f.path not in path or (
                        f.exclude and f.exclude in path):
                    continue
                if f.body_contains and f.body_contains not in body:
                    continue
                if f.watch is not None and f.watch != watch:
                    continue
                f.seen += 1
                if (f.seen - 1) % f.every:
                    continue
                f.fired += 1
                return f
        return None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> HttpFaultProxy:
        proxy = self

        class Handler(_Handler):
            owner = proxy

        # clients reset or killed mid-request are what this proxy is for: no error printed
        self._server.start(Handler, quiet=(Exception,))
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def url(self) -> str:
        return self._server.url


_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te",
        "trailer", "upgrade", "content-length", "host"}


class _Handler(QuietHandler):
    owner: HttpFaultProxy
    protocol_version = "HTTP/1.1"

    def _record(self, method: str, action: str, body: bytes) -> None:
        self.owner.requests.append(Seen(time.monotonic(), method, self.path, action,
                                        body[:4096]))

    def serve(self, method: str) -> None:
        body = self.read_body()
        watch = "watch=true" in self.path or "watch=1" in self.path
        fault = self.owner._pick(method, self.path, body, watch)
        self._record(method, fault.name if fault else "forwarded", body)
        if fault is not None:
            if fault.reset:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()
                return
            if fault.gone:
                status = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                          "status": "Failure", "reason": "Expired", "code": 410,
                          "message": "too old resource version (fault proxy)"}
                if watch:
                    line = json.dumps({"type": "ERROR", "object": status}).encode() + b"\n"
                    self.reply(200, line, {"Content-Type": "application/json"})
                else:
                    self.reply(410, json.dumps(status).encode(),
                               {"Content-Type": "application/json"})
                return
            if fault.status is not None:
                self.reply(fault.status, fault.body, fault.headers)
                return
            if fault.latency:
                time.sleep(fault.latency)
        self._forward(method, body)

    def _forward(self, method: str, body: bytes) -> None:
        with self.owner._lock:
            key = (method, self.path, self.owner.memo_key(body))
            memo = any(m in body for m in self.owner.memo_bodies)
            kept = self.owner.memos.get(key) if memo else None
        if kept is not None:
            status, hdrs, data = kept
            self.reply(status, data, hdrs)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
        headers["Host"] = f"{self.owner.target_host}:{self.owner.target_port}"
        conn = http.client.HTTPConnection(self.owner.target_host, self.owner.target_port,
                                          timeout=600)
        try:
            conn.request(method, self.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            chunked = resp.getheader("Transfer-Encoding", "").lower() == "chunked"
            kept_headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP]
            if not chunked:
                data = resp.read()
                if memo and resp.status == 200:
                    with self.owner._lock:
                        self.owner.memos[key] = (resp.status, kept_headers, data)
                self.reply(resp.status, data, kept_headers)
                return
            self.send_response(resp.status)
            for k, v in kept_headers:
                self.send_header(k, v)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            while True:
                line = resp.readline()
                if not line:
                    break
                self.write_chunk(line)
            self.end_chunks()
        except OSError:
            self.close_connection = True
        finally:
            conn.close()
