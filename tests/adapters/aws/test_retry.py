"""Throttling is retried with exponential backoff and full jitter, within a bound."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from scaler.adapters.aws import retry
from scaler.ports.cloud import ThrottledError


def aws_error(code: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "CreateFleet")


class Flaky:
    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def test_full_jitter_delays_stay_under_the_exponential_ceiling() -> None:
    b = retry.Backoff(base=0.25, cap=20.0, random=lambda: 1.0)
    assert [b.delay(n) for n in range(9)] == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 20.0, 20.0]
    assert retry.Backoff(base=0.25, random=lambda: 0.0).delay(5) == 0.0


@pytest.mark.parametrize("code", ["RequestLimitExceeded", "Throttling", "ThrottlingException"])
def test_throttling_is_retried_until_it_passes(code: str) -> None:
    slept: list[float] = []
    fn = Flaky(aws_error(code, 503), aws_error(code, 503))
    b = retry.Backoff(base=1.0, cap=10.0, sleep=slept.append, random=lambda: 0.5)
    assert retry.call(fn, what="CreateFleet", backoff=b) == "ok"
    assert fn.calls == 3 and slept == [0.5, 1.0]


def test_throttling_past_the_budget_is_a_throttled_error() -> None:
    fn = Flaky(*[aws_error("RequestLimitExceeded", 503)] * 10)
    b = retry.Backoff(max_attempts=4, sleep=lambda s: None)
    with pytest.raises(ThrottledError, match="still throttling.*after 4 attempts"):
        retry.call(fn, what="CreateFleet", backoff=b)
    assert fn.calls == 4


def test_other_errors_are_not_retried_by_default() -> None:
    fn = Flaky(aws_error("InternalError", 500))
    with pytest.raises(ClientError):
        retry.call(fn, what="CreateFleet", backoff=retry.Backoff(sleep=lambda s: None))
    assert fn.calls == 1


def test_transient_failures_are_retried_for_calls_safe_to_repeat() -> None:
    fn = Flaky(aws_error("InternalError", 500),
               EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), aws_error("Unavailable"))
    b = retry.Backoff(sleep=lambda s: None)
    assert retry.call(fn, what="DescribeInstances", backoff=b, retry_on=retry.is_transient) == "ok"
    assert not retry.is_transient(aws_error("InvalidParameterValue"))
    assert not retry.is_transient(ValueError("bug"))
