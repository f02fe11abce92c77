"""Each live source refreshes on its own interval and falls back, saying so, when it fails."""

from __future__ import annotations

import logging

import pytest

from scaler.adapters.aws.prices import BUNDLED, LIVE, RefreshedSource


def test_a_source_is_due_after_its_interval_and_keeps_its_last_good_value(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    src = RefreshedSource("spot prices (DescribeSpotPriceHistory)", interval=3600)
    assert src.due(0) and src.status().source == BUNDLED

    src.refresh(lambda: {"m5.large": 0.04}, now=0, size=len)
    assert not src.due(3599) and src.due(3600)
    assert (src.status().source, src.status().entries) == (LIVE, 1)

    def unreachable() -> dict[str, float]:
        raise ConnectionError("Could not connect to the endpoint URL")

    src.refresh(unreachable, now=3600, size=len)
    status = src.status()
    assert (status.source, status.error) == (LIVE, "Could not connect to the endpoint URL")
    assert src.value == {"m5.large": 0.04}  # the last good prices stay
    assert "keeping the last live data" in caplog.text
    assert status.describe() == ("spot prices (DescribeSpotPriceHistory): live (1 entries); "
                                 "last refresh failed: Could not connect to the endpoint URL")


def test_a_source_that_never_answered_reports_the_bundled_catalog(
        caplog: pytest.LogCaptureFixture) -> None:
    src = RefreshedSource("on-demand prices (Price List API)", interval=60)
    src.refresh(lambda: {}, now=0, size=len)  # an empty answer is no answer
    src.refresh(lambda: {}, now=60, size=len)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # warned once, not on every retry
    assert warnings[0].getMessage() == ("on-demand prices (Price List API) unavailable (the API "
                                        "answered with no data); using the bundled catalog")
    assert src.status().source == BUNDLED
