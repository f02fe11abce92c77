"""Connections to the Kubernetes API: configuration, raw JSON calls and one-line errors.

Every call goes through the official client's `ApiClient` with `_preload_content=False`, so
responses stay raw JSON that scaler decodes itself (the generated models cost seconds on
10k pods). Each `Kube` owns its own `ApiClient` and so its own urllib3 connection pool:
the leader election gets one of its own, so a Lease renewal never waits behind a large
list.

A 429 with `Retry-After` (API Priority and Fairness, or max-in-flight, shedding load) is
waited out as the server says, as client-go does: the call is sent again no earlier than
that, up to `KubeSettings.throttle_retries` times, and every other call on the same client
waits too. The wait is bounded so that a pass of the control loop is never held for long: a
Retry-After above `retry_after_cap` counts as the cap, and a call that would have to wait
longer than `max_wait` fails at once, unsent, with the time left in
`KubeApiError.retry_after`. A 429 without the header (an eviction a PodDisruptionBudget
refuses) is an answer, not a request to wait: it is raised as is.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes import client as k8s  # type: ignore[import-untyped]
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]
from kubernetes.config.config_exception import ConfigException  # type: ignore[import-untyped]

from scaler.errors import UserError
from scaler.ports.cluster import ClusterError

log = logging.getLogger(__name__)

JSON = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"
TIMEOUT = "Timeout"  # KubeApiError.reason of a client-side read timeout


class KubeApiError(ClusterError):
    """The API server refused a call, or could not be reached; `str()` is one line."""

    def __init__(self, what: str, status: int, reason: str, message: str,
                 details: Mapping[str, Any] | None = None,
                 retry_after: float | None = None) -> None:
        self.what = what
        self.status = status
        self.reason = reason
        self.message = message
        self.details = dict(details or {})
        # A 429's Retry-After in seconds (capped): the server asks to be called again later.
        self.retry_after = retry_after
        super().__init__(self.render())

    def render(self) -> str:
        if self.status:
            return f"Kubernetes API: {self.what}: {self.status} {self.reason}: {self.message}"
        return f"Kubernetes API: {self.what}: {self.message}"

    @property
    def causes(self) -> list[str]:
        out = []
        for cause in self.details.get("causes") or ():
            if isinstance(cause, Mapping) and cause.get("message"):
                out.append(str(cause["message"]))
        return out


RETRY_AFTER_CAP = 60.0  # seconds: a longer Retry-After is honoured for this long


def retry_after_seconds(value: object, cap: float = RETRY_AFTER_CAP) -> float | None:
    """A Retry-After header's delay in seconds, at most `cap`; None when it is absent or not
    a whole number of seconds (an HTTP date, a negative or fractional number: client-go
    ignores those too)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text.isascii() or not text.isdigit():
        return None
    digits = text.lstrip("0") or "0"
    return cap if len(digits) > 9 else min(float(digits), cap)


def _header(exc: Any, name: str) -> object:
    headers = getattr(exc, "headers", None)
    if headers is None:
        return None
    try:
        return headers.get(name)
    except AttributeError:
        return None


def api_error(what: str, exc: BaseException, cap: float = RETRY_AFTER_CAP) -> KubeApiError:
    """One clear line for a failed call: the API server's Status message when it sent one."""
    if isinstance(exc, KubeApiError):
        return exc
    if isinstance(exc, ApiException):
        status = int(exc.status or 0)
        reason = str(exc.reason or "")
        message = reason
        details: Mapping[str, Any] | None = None
        body = exc.body
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        if isinstance(body, str) and body:
            try:
                doc = json.loads(body)
            except ValueError:
                message = body.strip().splitlines()[0][:300]
            else:
                if isinstance(doc, Mapping):
                    message = str(doc.get("message") or reason)
                    reason = str(doc.get("reason") or reason)
                    raw = doc.get("details")
                    details = raw if isinstance(raw, Mapping) else None
        if status == 0:  # the client's own failure (TLS, bad parameters)
            message = " ".join(reason.split())
        wait = retry_after_seconds(_header(exc, "Retry-After"), cap) if status == 429 else None
        return KubeApiError(what, status, reason, message, details, wait)
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError | TimeoutError):
        return KubeApiError(what, 0, TIMEOUT, "no answer within the client's read timeout")
    if isinstance(exc, urllib3.exceptions.HTTPError):
        inner = getattr(exc, "reason", None) or exc
        return KubeApiError(what, 0, "Unreachable", f"cannot reach the API server ({inner})")
    return KubeApiError(what, 0, type(exc).__name__, str(exc) or type(exc).__name__)


@dataclass(frozen=True)
class KubeSettings:
    """Where the API server is. No kubeconfig and `KUBERNETES_SERVICE_HOST` set: in-cluster."""

    kubeconfig: str | None = None
    context: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 30.0  # plain calls; watches set their own
    # A 429's Retry-After: honoured up to this many seconds, a call sent again up to this
    # many times, and no call held longer than max_wait (it fails at once instead).
    retry_after_cap: float = RETRY_AFTER_CAP
    throttle_retries: int = 3
    max_wait: float = 10.0


def load_configuration(settings: KubeSettings) -> Any:
    cfg = k8s.Configuration()
    try:
        if settings.kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            k8s_config.load_incluster_config(client_configuration=cfg)
        else:
            k8s_config.load_kube_config(config_file=settings.kubeconfig,
                                        context=settings.context,
                                        client_configuration=cfg)
    except (ConfigException, OSError, ValueError, TypeError) as e:
        where = settings.kubeconfig or "~/.kube/config"
        raise UserError(f"cannot load the Kubernetes configuration: {e}", file=where) from None
    cfg.retries = False  # scaler retries itself, where retrying is safe
    return cfg


def _query(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    out = []
    for k, v in params.items():
        if v is None:
            continue
        out.append((k, ("true" if v else "false") if isinstance(v, bool) else str(v)))
    return out


class Kube:
    """Raw-JSON calls on one connection pool. Thread-safe (urllib3 pools are)."""

    def __init__(self, configuration: Any, settings: KubeSettings | None = None) -> None:
        self.settings = settings or KubeSettings()
        # A copy, so that this client's pool and defaults are its own.
        self.api_client = k8s.ApiClient(configuration=copy.copy(configuration))
        self.api_client.user_agent = "scaler"
        self._lock = threading.Lock()
        self._not_before = 0.0  # time.monotonic() before which no call is sent (Retry-After)

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.settings.connect_timeout, self.settings.read_timeout)

    def request(self, method: str, path: str, *, query: Mapping[str, Any] | None = None,
                body: Any = None, content_type: str = "application/json",
                what: str | None = None, timeout: tuple[float, float] | None = None) -> JSON:
        resp = self._call(method, path, query or {}, body, content_type,
                          timeout or self.timeout, what or f"{method} {path}")
        try:
            data = resp.data
        except Exception as e:
            raise api_error(what or f"{method} {path}", e) from None
        finally:
            resp.release_conn()
        if not data:
            return {}
        doc = json.loads(data)
        return doc if isinstance(doc, dict) else {"items": doc}

    def stream(self, path: str, query: Mapping[str, Any], timeout: tuple[float, float],
               what: str) -> Iterator[JSON]:
        """A watch: one decoded event per line, until the server ends it. A silent server
        raises a read timeout (`KubeApiError`) after `timeout[1]` seconds."""
        resp = self._call("GET", path, query, None, "application/json", timeout, what)
        buf = b""
        try:
            for chunk in resp.stream(amt=65536, decode_content=True):
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
            if buf.strip():
                yield json.loads(buf)
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise api_error(what, e) from None
        finally:
            # A watch left half-read cannot go back to the pool as it is.
            resp.close()
            resp.release_conn()

    def _call(self, method: str, path: str, query: Mapping[str, Any], body: Any,
              content_type: str, timeout: tuple[float, float], what: str) -> Any:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        attempt = 0
        while True:
            self._await_turn(what)
            try:
                return self.api_client.call_api(
                    path, method, query_params=_query(query), header_params=headers,
                    body=body, auth_settings=["BearerToken"], _preload_content=False,
                    _request_timeout=timeout, response_types_map={},
                )
            except Exception as e:  # ApiException, urllib3 errors: one line, no traceback
                err = api_error(what, e, self.settings.retry_after_cap)
            if err.retry_after is None:
                raise err
            self._hold(err.retry_after)
            attempt += 1
            if attempt > self.settings.throttle_retries:
                raise err
            log.info("%s: the API server is busy (429); sending it again after %gs "
                     "(Retry-After)", what, err.retry_after)

    def _hold(self, seconds: float) -> None:
        """No call on this client before `seconds` from now (the server's Retry-After)."""
        with self._lock:
            self._not_before = max(self._not_before, time.monotonic() + seconds)

    def _await_turn(self, what: str) -> None:
        """Wait out the Retry-After in force; one longer than `max_wait` fails the call."""
        with self._lock:
            left = self._not_before - time.monotonic()
        if left <= 0:
            return
        if left > self.settings.max_wait:
            raise KubeApiError(what, 429, "TooManyRequests",
                               f"not sent: the API server asked to wait {left:.0f}s more "
                               "(Retry-After)", retry_after=left)
        time.sleep(left)

    def close(self) -> None:
        self.api_client.close()


def object_path(group_version: str, plural: str, namespace: str | None = None,
                name: str | None = None, subresource: str | None = None) -> str:
    base = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    parts = [base]
    if namespace:
        parts.append(f"namespaces/{namespace}")
    parts.append(plural)
    if name:
        parts.append(name)
    if subresource:
        parts.append(subresource)
    return "/".join(parts)
