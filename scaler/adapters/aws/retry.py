"""Retrying AWS calls: throttling backs off exponentially with full jitter, within a bound.

botocore's own retries are switched off for scaler's clients (see `clients.py`), so this is
the one place that decides what is resent: throttling always (AWS did not act on the call),
other transient failures only for calls that are safe to repeat. A launch is not: `fleet.py`
looks for the instance by its node-claim tag before it resends one.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from scaler.ports.cloud import ThrottledError

log = logging.getLogger(__name__)

T = TypeVar("T")

# Error codes AWS services use for "slow down" (EC2, SQS, IAM, SSM, Pricing).
THROTTLE_CODES = frozenset(
    {
        "RequestLimitExceeded",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "EC2ThrottledException",
        "SlowDown",
        "PriorRequestNotComplete",
        "BandwidthLimitExceeded",
    }
)
# Server-side failures worth another try when the call can be repeated safely.
TRANSIENT_CODES = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "Unavailable",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError (or anything shaped like one)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def http_status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return int(status) if status is not None else None
    return None


def is_throttle(exc: BaseException) -> bool:
    return error_code(exc) in THROTTLE_CODES


def is_connection_error(exc: BaseException) -> bool:
    """The request may or may not have reached AWS (no answer came back)."""
    # botocore's connection errors all derive from these two; imported lazily so this module
    # stays importable without botocore for the pure tests.
    from botocore.exceptions import (  # type: ignore[import-untyped]
        ConnectionError as BotoConnectionError,
    )
    from botocore.exceptions import HTTPClientError

    return isinstance(exc, BotoConnectionError | HTTPClientError)


def is_transient(exc: BaseException) -> bool:
    """Throttling, a 5xx, or no answer at all: another try may succeed."""
    if is_throttle(exc) or error_code(exc) in TRANSIENT_CODES:
        return True
    status = http_status(exc)
    if status is not None and status >= 500:
        return True
    return is_connection_error(exc)


@dataclass
class Backoff:
    """Exponential backoff with full jitter: attempt n sleeps uniform(0, min(cap, base*2^n)).

    `max_attempts` bounds the calls made (the first try included). `sleep` and `random` are
    injectable so tests run without waiting and can check the delays.
    """

    base: float = 0.25
    cap: float = 20.0
    max_attempts: int = 8
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    random: Callable[[], float] = field(default=random.random, repr=False)

    def delay(self, attempt: int) -> float:
        """The sleep after failed attempt number `attempt` (0-based)."""
        return self.random() * min(self.cap, self.base * 2.0**attempt)


def call(
    fn: Callable[[], T],
    *,
    what: str,
    backoff: Backoff,
    retry_on: Callable[[BaseException], bool] = is_throttle,
) -> T:
    """Call `fn`, retrying the failures `retry_on` accepts, at most `backoff.max_attempts` times.

    Throttling that outlasts the budget becomes ThrottledError; any other retryable failure is
    re-raised as it came once the budget is spent.
    """
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            if not retry_on(exc):
                raise
            attempt += 1
            code = error_code(exc) or type(exc).__name__
            if attempt >= backoff.max_attempts:
                if is_throttle(exc):
                    raise ThrottledError(
                        f"{what}: AWS still throttling ({code}) after {attempt} attempts"
                    ) from exc
                raise
            pause = backoff.delay(attempt - 1)
            log.info("%s: %s, retry %d/%d in %.2fs", what, code, attempt,
                     backoff.max_attempts - 1, pause)
            backoff.sleep(pause)
