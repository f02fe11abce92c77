"""The plumbing the test servers share (the Kubernetes API stand-in, the fault proxy, the
authenticating proxy): a threading HTTP(S) server on a free 127.0.0.1 port, served from a
daemon thread, and a quiet request handler with the few ways they answer.

`LocalServer().start(Handler)` binds and serves; `url` is `http://127.0.0.1:PORT` (https
with `tls=(cert, key)`); `stop()` shuts it down and may be called twice. `quiet` names the
errors a handler may raise that are no server bug (a client killed or reset mid-request): they
are not printed.
"""

from __future__ import annotations

import ssl
import sys
import threading
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    quiet: tuple[type[BaseException], ...] = ()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], self.quiet):
            super().handle_error(request, client_address)


class LocalServer:
    def __init__(self) -> None:
        self._server: _Server | None = None
        self._tls = False

    def start(self, handler: type[BaseHTTPRequestHandler],
              tls: tuple[str | Path, str | Path] | None = None,
              quiet: tuple[type[BaseException], ...] = ()) -> LocalServer:
        server = _Server(("127.0.0.1", 0), handler)
        server.quiet = quiet
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            server.socket = ctx.wrap_socket(server.socket, server_side=True)
        self._server, self._tls = server, tls is not None
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the server is not started"
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"


class QuietHandler(BaseHTTPRequestHandler):
    """Hands every GET, POST, PUT, PATCH and DELETE to `serve(method)`; logs nothing."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def serve(self, method: str) -> None:
        raise NotImplementedError

    def do_GET(self) -> None:
        self.serve("GET")

    def do_POST(self) -> None:
        self.serve("POST")

    def do_PUT(self) -> None:
        self.serve("PUT")

    def do_PATCH(self) -> None:
        self.serve("PATCH")

    def do_DELETE(self) -> None:
        self.serve("DELETE")

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, code: int, body: bytes,
              headers: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        """A whole answer: the status, the headers given, then Content-Length and the body."""
        self.send_response(code)
        for k, v in headers.items() if isinstance(headers, Mapping) else headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def write_chunk(self, data: bytes) -> None:
        """One chunk of a chunked answer (a watch's event line), flushed at once."""
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
