"""EventBridge events as they arrive on the interruption queue, parsed into what to do."""

from __future__ import annotations

import json

import pytest

from scaler.adapters.aws.interruptions import ACTING_KINDS, Kind, parse_message
from tests.support.paths import TESTS

EVENTS = TESTS / "fixtures" / "aws" / "events"
ID = "i-0123456789abcdef0"


@pytest.mark.parametrize(("name", "kind", "ids", "detail"), [
    ("spot_interruption", Kind.SPOT_INTERRUPTION, (ID,), "terminate"),
    ("rebalance_recommendation", Kind.REBALANCE_RECOMMENDATION, (ID,), ""),
    ("scheduled_change", Kind.SCHEDULED_CHANGE, (ID,),
     "AWS_EC2_PERSISTENT_INSTANCE_RETIREMENT_SCHEDULED"),
    ("state_change_stopping", Kind.STATE_CHANGE, (ID,), "stopping"),
    ("state_change_running", Kind.NOOP, (), ""),
    ("health_other_service", Kind.NOOP, (), ""),
])
def test_each_event_kind(name: str, kind: Kind, ids: tuple[str, ...], detail: str) -> None:
    msg = parse_message((EVENTS / f"{name}.json").read_text())
    assert (msg.kind, msg.instance_ids) == (kind, ids)
    if kind is not Kind.NOOP:
        assert msg.detail == detail and msg.event_id and msg.time


def test_which_kinds_lead_to_cordon_and_drain() -> None:
    # Karpenter's actions: rebalance recommendations are only recorded.
    assert ACTING_KINDS == {Kind.SPOT_INTERRUPTION, Kind.SCHEDULED_CHANGE, Kind.STATE_CHANGE}


@pytest.mark.parametrize("body", ["not json", "[1, 2]", json.dumps({
    "source": "aws.ec2", "detail-type": "EC2 Spot Instance Interruption Warning", "detail": {}})])
def test_unreadable_messages_are_errors(body: str) -> None:
    with pytest.raises(ValueError):
        parse_message(body)


def test_other_events_are_no_ops() -> None:
    msg = parse_message(json.dumps({"source": "aws.s3", "detail-type": "Object Created",
                                    "detail": {"bucket": {"name": "b"}}}))
    assert msg.kind is Kind.NOOP and msg.instance_ids == ()
