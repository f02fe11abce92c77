"""An HTTP server that answers Price List API GetProducts calls from recorded responses.

moto has no Pricing API. This speaks the API's wire protocol (AWS JSON 1.1, `X-Amz-Target:
AWSPriceListService.GetProducts`) and answers from a fixture of recorded pages, keyed by the
query's tenancy and product family and the page token; so the provider's real boto3 pricing
client, pagination included, runs against it. Requests are recorded for the tests.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "aws" / "pricing"


def load_recording(region: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"get_products_{region}.json").read_text())
    return data


def _key(filters: list[dict[str, str]], token: str | None) -> tuple[str, str, str | None]:
    by_field = {f["Field"]: f["Value"] for f in filters}
    return by_field.get("tenancy", ""), by_field.get("productFamily", ""), token


class PricingReplay:
    def __init__(self, recording: dict[str, Any]) -> None:
        self.pages = {
            (r["request"]["tenancy"], r["request"]["productFamily"], r["request"]["NextToken"]):
            r["response"]
            for r in recording["responses"]
        }
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        replay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target", "")
                request = json.loads(body or b"{}")
                with replay.lock:
                    replay.requests.append({"target": target, **request})
                page = None
                if target == "AWSPriceListService.GetProducts":
                    page = replay.pages.get(_key(request.get("Filters", []),
                                                 request.get("NextToken")))
                if page is None:
                    status = 400
                    out = json.dumps({"__type": "InvalidParameterException",
                                      "Message": "no recorded answer"}).encode()
                else:
                    status, out = 200, json.dumps(page).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.01}, daemon=True)

    def start(self) -> PricingReplay:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
