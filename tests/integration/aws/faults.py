"""An HTTP proxy in front of moto_server that injects the failures real AWS produces.

moto answers every call it implements; it never runs out of capacity or throttles. This
proxy forwards every request to moto unchanged, except those a rule picks, for which it
answers what AWS answers (the error documents below follow EC2's query-protocol error shape
and CreateFleet's `errorSet`), or lets moto act and then loses the answer. It also records
every request (action and parameters) so tests can check what scaler sent.

Rules:
* `throttle(action, times)`: answer HTTP 503 RequestLimitExceeded `times` times.
* `insufficient_capacity(instance_type, subnet_id=None, capacity_type=None)`: CreateFleet
  overrides for that instance type (in that subnet, for that capacity type) are taken out
  of the request before moto sees it, and come back as `InsufficientInstanceCapacity` items
  of the answer's errorSet, as EC2 reports them; if none is left, the answer has only the
  errors.
* `lose_answer(action, times)`: moto acts, the client gets HTTP 500 InternalError.
* `answer(action, reply)`: a JSON-protocol call moto cannot answer (SSM's public AWS
  parameters) gets `reply(params) -> (status, body)` instead, an answer recorded from the
  service's documented shape.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from xml.sax.saxutils import escape

EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"


@dataclass
class Recorded:
    service: str  # IAM's prefix: ec2, iam, sqs, ssm
    action: str
    params: dict[str, str]
    status: int = 0
    at: float = field(default_factory=time.monotonic)  # when the request came in

    @property
    def iam_action(self) -> str:
        return f"{self.service}:{self.action}"


_QUERY_VERSIONS = {"2016-11-15": "ec2", "2010-05-08": "iam"}
_JSON_PREFIXES = {"AmazonSQS": "sqs", "AmazonSSM": "ssm"}


@dataclass
class Rules:
    throttled: dict[str, int] = field(default_factory=dict)
    lost: dict[str, int] = field(default_factory=dict)
    # (instance type, subnet id or None: every subnet, "spot"/"on-demand" or None: both)
    no_capacity: set[tuple[str, str | None, str | None]] = field(default_factory=set)
    answers: dict[str, Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]] = field(
        default_factory=dict)


def ec2_error(code: str, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Response><Errors><Error><Code>{code}</Code><Message>{escape(message)}</Message>"
        f"</Error></Errors><RequestID>{uuid.uuid4()}</RequestID></Response>"
    ).encode()


def json_error(code: str, message: str) -> bytes:
    return json.dumps({"__type": code, "message": message}).encode()


def fleet_overrides(params: Mapping[str, str]) -> dict[tuple[int, int], dict[str, str]]:
    """LaunchTemplateConfigs.<c>.Overrides.<o>.<Field> -> {(c, o): {Field: value}}."""
    found: dict[tuple[int, int], dict[str, str]] = {}
    for key, value in params.items():
        parts = key.split(".")
        if len(parts) == 5 and parts[0] == "LaunchTemplateConfigs" and parts[2] == "Overrides":
            found.setdefault((int(parts[1]), int(parts[3])), {})[parts[4]] = value
    return found


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.rules = Rules()
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802
                proxy._handle(self, b"")

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                proxy._handle(self, self.rfile.read(length))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.01}, daemon=True)

    # -- rules --------------------------------------------------------------------------

    def throttle(self, action: str, times: int) -> None:
        self.rules.throttled[action] = times

    def lose_answer(self, action: str, times: int = 1) -> None:
        self.rules.lost[action] = times

    def answer(self, action: str,
               reply: Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]) -> None:
        self.rules.answers[action] = reply

    def insufficient_capacity(self, instance_type: str, subnet_id: str | None = None,
                              capacity_type: str | None = None) -> None:
        self.rules.no_capacity.add((instance_type, subnet_id, capacity_type))

    def _no_capacity(self, instance_type: str | None, subnet_id: str | None,
                     capacity_type: str) -> bool:
        return any(
            t == instance_type and s in (None, subnet_id) and c in (None, capacity_type)
            for t, s, c in self.rules.no_capacity
        )

    def calls(self, action: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.action == action]

    def actions(self) -> set[str]:
        """IAM action names of every call seen ("ec2:CreateFleet", "sqs:ReceiveMessage")."""
        with self._lock:
            return {r.iam_action for r in self.requests}

    # -- serving ------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _forward(self, handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, dict[str, str],
                                                                               bytes]:
        conn = http.client.HTTPConnection(self.upstream.hostname or "127.0.0.1",
                                          self.upstream.port, timeout=60)
        headers = {k: v for k, v in handler.headers.items()
                   if k.lower() not in ("host", "content-length", "connection")}
        headers["Host"] = f"{self.upstream.hostname}:{self.upstream.port}"
        headers["Content-Length"] = str(len(body))
        conn.request(handler.command, handler.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        out = {k: v for k, v in resp.getheaders()
               if k.lower() not in ("content-length", "connection", "transfer-encoding")}
        conn.close()
        return resp.status, out, data

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, headers: Mapping[str, str],
               body: bytes) -> None:
        handler.send_response(status)
        for k, v in headers.items():
            handler.send_header(k, v)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        target = handler.headers.get("X-Amz-Target")
        is_json = target is not None
        if is_json:
            prefix, _, action = target.rpartition(".")
            service = _JSON_PREFIXES.get(prefix, prefix)
            try:
                params = {k: json.dumps(v) for k, v in json.loads(body or b"{}").items()}
            except ValueError:
                params = {}
        else:
            params = dict(parse_qsl(body.decode(), keep_blank_values=True))
            action = params.get("Action", "")
            service = _QUERY_VERSIONS.get(params.get("Version", ""), "?")
        record = Recorded(service, action, params)
        with self._lock:
            self.requests.append(record)
            throttled = self.rules.throttled.get(action, 0) > 0
            if throttled:
                self.rules.throttled[action] -= 1
            lose = self.rules.lost.get(action, 0) > 0
            if lose:
                self.rules.lost[action] -= 1
        reply = self.rules.answers.get(action) if is_json else None
        if reply is not None:
            status, answer = reply(json.loads(body or b"{}"))
            record.status = status
            self._reply(handler, status, {"Content-Type": "application/x-amz-json-1.1"},
                        json.dumps(answer).encode())
            return
        if throttled:
            record.status = 503 if not is_json else 400
            if is_json:
                self._reply(handler, 400, {"Content-Type": "application/x-amz-json-1.0"},
                            json_error("ThrottlingException", "Rate exceeded"))
            else:
                self._reply(handler, 503, {"Content-Type": "text/xml"},
                            ec2_error("RequestLimitExceeded", "Request limit exceeded."))
            return
        if action == "CreateFleet" and self.rules.no_capacity:
            self._create_fleet(handler, params, record, lose)
            return
        status, headers, data = self._forward(handler, body)
        if lose:
            record.status = 500
            self._reply(handler, 500, {"Content-Type": "text/xml"},
                        ec2_error("InternalError", "An internal error has occurred"))
            return
        record.status = status
        self._reply(handler, status, headers, data)

    def _create_fleet(self, handler: BaseHTTPRequestHandler, params: dict[str, str],
                      record: Recorded, lose: bool) -> None:
        overrides = fleet_overrides(params)
        lifecycle = params.get("TargetCapacitySpecification.DefaultTargetCapacityType",
                               "on-demand")
        failed = {k: v for k, v in overrides.items()
                  if self._no_capacity(v.get("InstanceType"), v.get("SubnetId"), lifecycle)}
        kept = [k for k in sorted(overrides) if k not in failed]
        errors = "".join(self._error_item(params, c, v, lifecycle)
                         for (c, _), v in sorted(failed.items()))
        if not kept:
            body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<CreateFleetResponse '
                    f'xmlns="{EC2_NS}"><requestId>{uuid.uuid4()}</requestId>'
                    f"<fleetId>fleet-{uuid.uuid4()}</fleetId><errorSet>{errors}</errorSet>"
                    f"<fleetInstanceSet/></CreateFleetResponse>").encode()
            record.status = 200
            self._reply(handler, 200, {"Content-Type": "text/xml"}, body)
            return
        # The request moto sees: the kept overrides, renumbered per launch template config.
        forwarded = {k: v for k, v in params.items()
                     if not (k.startswith("LaunchTemplateConfigs.") and ".Overrides." in k)}
        numbering: dict[int, int] = {}
        for c, o in kept:
            numbering[c] = numbering.get(c, 0) + 1
            for fname, value in overrides[(c, o)].items():
                forwarded[f"LaunchTemplateConfigs.{c}.Overrides.{numbering[c]}.{fname}"] = value
        status, headers, data = self._forward(handler, urlencode(forwarded).encode())
        if lose:
            record.status = 500
            self._reply(handler, 500, {"Content-Type": "text/xml"},
                        ec2_error("InternalError", "An internal error has occurred"))
            return
        if status == 200 and errors:
            text = data.decode()
            close = "</CreateFleetResponse>"
            text = text.replace(close, f"<errorSet>{errors}</errorSet>{close}")
            data = text.encode()
        record.status = status
        self._reply(handler, status, headers, data)

    @staticmethod
    def _error_item(params: Mapping[str, str], config: int, override: Mapping[str, str],
                    lifecycle: str) -> str:
        lt = params.get(f"LaunchTemplateConfigs.{config}.LaunchTemplateSpecification."
                        "LaunchTemplateId", "")
        itype = override.get("InstanceType", "")
        subnet = override.get("SubnetId", "")
        message = (f"We currently do not have sufficient {itype} capacity in the Availability "
                   "Zone you requested. Our system will be working on provisioning additional "
                   "capacity.")
        return (
            "<item><launchTemplateAndOverrides><launchTemplateSpecification>"
            f"<launchTemplateId>{lt}</launchTemplateId><version>1</version>"
            "</launchTemplateSpecification><overrides>"
            f"<instanceType>{itype}</instanceType><subnetId>{subnet}</subnetId>"
            f"</overrides></launchTemplateAndOverrides><lifecycle>{lifecycle}</lifecycle>"
            "<errorCode>InsufficientInstanceCapacity</errorCode>"
            f"<errorMessage>{escape(message)}</errorMessage></item>"
        )
