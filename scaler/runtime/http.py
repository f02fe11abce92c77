"""One HTTP server, on its own thread, for `/metrics`, `/healthz` and `/readyz` (and
OpenCost's allocation API when an allocation handler is given).

    /metrics   the process registry (Prometheus text 0.0.4, or OpenMetrics when asked)
    /allocation/compute, /model/allocation/compute, /allocation
               OpenCost's allocation API (scaler/output/allocation_api.py)
    /healthz   liveness: the process serves, and the control loop's last heartbeat is
               younger than `heartbeat_timeout` (a wedged loop gets the pod restarted)
    /readyz    readiness: policies loaded, caches synced, and leader election has placed this
               replica (leader or standby: both are ready, so the standby stays in the
               Service's endpoints and the PodDisruptionBudget counts it)

Health answers look like the API server's: one `[+]name ok` / `[-]name failed: why` line per
check, then `healthz check passed` (200) or `... check failed` (503). One server because the
chart exposes one port and probes and scrapes must not depend on the loop's thread.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

LEADER, STANDBY = "leader", "standby"
ALLOCATION_PATHS = ("/allocation/compute", "/model/allocation/compute", "/allocation")
# Query parameters -> (HTTP status, JSON body).
AllocationHandler = Callable[[Mapping[str, Sequence[str]]], tuple[int, bytes]]
log = logging.getLogger("scaler.runtime.http")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""

    def line(self) -> str:
        return f"[+]{self.name} ok" if self.ok else f"[-]{self.name} failed: {self.detail}"


class Health:
    """What the probes answer from. The control loop calls `heartbeat()` on every pass (as
    leader and as standby) and the setters as state changes; thread-safe."""

    def __init__(
        self, heartbeat_timeout: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.heartbeat_timeout = heartbeat_timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._heartbeat = clock()  # start-up counts as a beat: the first pass may be slow
        self._policies_loaded = False
        self._caches_synced = False
        self._role: str | None = None

    def heartbeat(self) -> None:
        with self._lock:
            self._heartbeat = self._clock()

    def set_policies_loaded(self, loaded: bool) -> None:
        with self._lock:
            self._policies_loaded = loaded

    def set_caches_synced(self, synced: bool) -> None:
        with self._lock:
            self._caches_synced = synced

    def set_role(self, role: str | None) -> None:
        """`leader`, `standby`, or None while the election has not answered yet."""
        if role not in (LEADER, STANDBY, None):
            raise ValueError(f"role must be {LEADER!r}, {STANDBY!r} or None, not {role!r}")
        with self._lock:
            self._role = role

    def liveness(self) -> list[Check]:
        with self._lock:
            age = self._clock() - self._heartbeat
        fresh = age <= self.heartbeat_timeout
        return [
            Check("ping", True),
            Check(
                "loop",
                fresh,
                f"last heartbeat {age:.0f}s ago (limit {self.heartbeat_timeout:.0f}s)",
            ),
        ]

    def readiness(self) -> list[Check]:
        with self._lock:
            policies, caches, role = self._policies_loaded, self._caches_synced, self._role
        return [
            Check("policies", policies, "no validated policy bundle loaded yet"),
            Check("caches", caches, "informer caches not synced yet"),
            Check(
                "leader-election",
                role is not None,
                "not yet leader or standby",
            ),
        ]


class ControllerServer:
    """`/metrics`, `/healthz`, `/readyz` on `host:port` (port 0: any free port; `port` then
    tells which). `start()` returns at once; `stop()` closes the socket."""

    def __init__(
        self,
        registry: CollectorRegistry,
        health: Health,
        host: str = "0.0.0.0",
        port: int = 8080,
        allocation: AllocationHandler | None = None,
    ) -> None:
        self.registry = registry
        self.health = health
        self.allocation = allocation
        handler = _handler_for(self)
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> ControllerServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="scaler-http", daemon=True
        )
        self._thread.start()
        log.info("serving /metrics, /healthz, /readyz", extra={"fields": {"port": self.port}})
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ControllerServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler_for(server: ControllerServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "scaler"
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            path = url.path.rstrip("/") or "/"
            if path in ALLOCATION_PATHS and server.allocation is not None:
                try:
                    code, body = server.allocation(parse_qs(url.query, keep_blank_values=True))
                except Exception as e:  # a bug must answer 500, not kill the server thread
                    log.exception("allocation request failed")
                    code = 500
                    body = json.dumps(
                        {"code": 500, "status": "", "data": None, "message": f"Error: {e}"}
                    ).encode()
                self._send(code, body, "application/json")
            elif path == "/metrics":
                encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
                self._send(200, encoder(server.registry), content_type)
            elif path in ("/healthz", "/livez"):
                self._checks("healthz", server.health.liveness())
            elif path == "/readyz":
                self._checks("readyz", server.health.readiness())
            else:
                self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")

        def _checks(self, what: str, checks: list[Check]) -> None:
            ok = all(c.ok for c in checks)
            lines = [c.line() for c in checks]
            lines.append(f"{what} check {'passed' if ok else 'failed'}")
            body = ("\n".join(lines) + "\n").encode()
            self._send(200 if ok else 503, body, "text/plain; charset=utf-8")

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            # probes every few seconds would drown the JSON log; keep them at debug
            log.debug(format % args)

    return Handler
