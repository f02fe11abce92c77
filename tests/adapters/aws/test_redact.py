"""Credentials never reach a log line, botocore's wire-level DEBUG records included."""

from __future__ import annotations

import logging

import pytest

from scaler.adapters.aws.redact import protect_loggers, redact

SIGNED = ("Sending http request: <AWSPreparedRequest stream_output=False, method=POST, "
          "url=https://ec2.eu-west-1.amazonaws.com/, headers={'X-Amz-Security-Token': "
          "b'IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJGMEQCIF', 'Authorization': "
          "b'AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEKEY12345/20261126/eu-west-1/ec2/"
          "aws4_request, SignedHeaders=host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba"
          "6789a8edb4c82c400e06b5924a6f2b5d7'}>")


def test_headers_keys_and_tokens_are_masked() -> None:
    clean = redact(SIGNED)
    for secret in ("IQoJb3JpZ2luX2VjEJr", "ASIAEXAMPLEKEY12345"):
        assert secret not in clean
    assert "url=https://ec2.eu-west-1.amazonaws.com/" in clean  # the rest is kept
    assert redact("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG") == (
        "aws_secret_access_key = <redacted>")
    assert redact('{"SessionToken": "FwoGZXIvYXdzE"}') == '{"SessionToken": "<redacted>"}'
    kept = "ClientToken=scaler-0a1b NextToken=abc"  # not credentials
    assert redact(kept) == kept


def test_a_botocore_debug_record_is_masked_before_any_handler_sees_it(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    logger = logging.getLogger("botocore.endpoint")
    protect_loggers()
    logger.debug("%s", SIGNED)
    [record] = [r for r in caplog.records if r.name == "botocore.endpoint"]
    assert "IQoJb3JpZ2luX2VjEJr" not in record.getMessage()
    assert "<redacted>" in caplog.text
