"""The controller's logs: one JSON object per line with time, level, logger, msg and fields."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from scaler.errors import UserError
from scaler.runtime.logs import configure_logging, log_event, parse_level


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root, gitops = logging.getLogger("scaler"), logging.getLogger("scaler.gitops")
    saved = (root.level, root.propagate, gitops.level, gitops.propagate)
    out = io.StringIO()
    handler = configure_logging(out, redact=lambda s: s.replace("s3cr3t", "***"))
    yield out
    root.removeHandler(handler)  # leave logging as other tests (caplog) expect it
    root.level, root.propagate, gitops.level, gitops.propagate = saved


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(x) for x in stream.getvalue().splitlines()]


def test_each_record_is_one_json_object_with_its_fields(stream: io.StringIO) -> None:
    log = logging.getLogger("scaler.provisioner")
    log_event(log, logging.INFO, "launched node", nodepool="general", pods=3)
    log.warning("eviction blocked", extra={"pod": "shop/web-1"})
    log.debug("not shown at info")
    logging.getLogger("scaler.gitops").info("applied revision main@sha1:abc")
    first, second, third = lines(stream)
    assert set(first) == {"time", "level", "logger", "msg", "nodepool", "pods"}
    assert first["level"] == "info" and first["logger"] == "scaler.provisioner"
    assert first["msg"] == "launched node" and first["pods"] == 3
    assert str(first["time"]).endswith("Z")
    assert second["level"] == "warning" and second["pod"] == "shop/web-1"
    assert third["logger"] == "scaler.gitops"  # the GitOps logger lands in the same stream


def test_secrets_are_scrubbed_and_errors_stay_on_one_line(stream: io.StringIO) -> None:
    log = logging.getLogger("scaler.sync")
    try:
        raise RuntimeError("fetch failed")
    except RuntimeError:
        log.exception("git fetch https://bot:s3cr3t@example.com failed", extra={"fields": {
            "url": "https://bot:s3cr3t@example.com"}})
    (doc,) = lines(stream)
    assert "s3cr3t" not in json.dumps(doc)
    assert doc["error"] == "RuntimeError: fetch failed" and doc["level"] == "error"
    assert len(stream.getvalue().splitlines()) == 1


def test_configuring_twice_keeps_one_handler(stream: io.StringIO) -> None:
    again = io.StringIO()
    handler = configure_logging(again)
    try:
        logging.getLogger("scaler.x").info("once")
        assert stream.getvalue() == "" and len(again.getvalue().splitlines()) == 1
    finally:
        logging.getLogger("scaler").removeHandler(handler)


def test_log_levels_by_name() -> None:
    assert parse_level("DEBUG") == logging.DEBUG
    with pytest.raises(UserError, match="--log-level: unknown log level 'loud'"):
        parse_level("loud")


def test_the_gitops_json_handler_gives_way_so_records_are_written_once() -> None:
    from scaler.gitops.logs import configure_json_logging

    root, gitops = logging.getLogger("scaler"), logging.getLogger("scaler.gitops")
    saved = (root.level, root.propagate, gitops.level, gitops.propagate)
    before, after = io.StringIO(), io.StringIO()
    configure_json_logging(before)  # what `scaler policies watch` sets up
    handler = configure_logging(after)
    try:
        gitops.info("applied revision main@sha1:abc")
        assert before.getvalue() == ""
        (doc,) = lines(after)
        assert doc["logger"] == "scaler.gitops"
    finally:
        root.removeHandler(handler)
        root.level, root.propagate, gitops.level, gitops.propagate = saved
