"""Offerings out of capacity stay out of the choices for Karpenter's three minutes."""

from __future__ import annotations

from scaler.adapters.aws.offerings import UNAVAILABLE_TTL_SECONDS, UnavailableOfferings


def test_an_offering_is_unavailable_for_the_ttl_only() -> None:
    now = [100.0]
    cache = UnavailableOfferings(clock=lambda: now[0])
    cache.mark("m5.large", "us-east-1a", "spot", "InsufficientInstanceCapacity")
    assert UNAVAILABLE_TTL_SECONDS == 180
    assert cache.is_unavailable("m5.large", "us-east-1a", "spot")
    assert not cache.is_unavailable("m5.large", "us-east-1a", "on-demand")
    assert not cache.is_unavailable("m5.large", "us-east-1b", "spot")
    now[0] += 179
    assert [u.reason for u in cache.active()] == ["InsufficientInstanceCapacity"]
    now[0] += 1
    assert not cache.is_unavailable("m5.large", "us-east-1a", "spot")
    assert cache.active() == ()


def test_marking_again_extends_the_window() -> None:
    now = [0.0]
    cache = UnavailableOfferings(ttl=10, clock=lambda: now[0])
    cache.mark("c5.large", "z", "spot", "InsufficientInstanceCapacity")
    now[0] = 8
    cache.mark("c5.large", "z", "spot", "SpotInterruptionWarning")
    now[0] = 12
    assert cache.is_unavailable("c5.large", "z", "spot")
    assert cache.active()[0].reason == "SpotInterruptionWarning"
