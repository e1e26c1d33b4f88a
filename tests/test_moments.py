"""Times people type into filters: one parser for the API, the command line and the web page."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

import flow_artifacts as fa
from flow_artifacts.errors import ConfigError, InvalidMoment
from flow_artifacts.moments import when_given

NOW = datetime(2026, 5, 1, 14, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "typed, ago",
    [("2d", timedelta(days=2)), ("3h", timedelta(hours=3)), ("45m", timedelta(minutes=45)),
     ("30s", timedelta(seconds=30)), ("1w", timedelta(weeks=1)), (" 2D ", timedelta(days=2)),
     ("now", timedelta(0))],
)  # fmt: skip
def test_amounts_of_time_ago(typed, ago):
    assert when_given(typed, "since", now=NOW) == NOW - ago


def test_today_and_yesterday_are_local_midnights(monkeypatch):
    evening = datetime(2026, 5, 1, 20, 0, tzinfo=timezone.utc)  # 05:00 on 2 May in Tokyo
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        today = when_given("today", "since", now=evening)
        assert today.isoformat() == "2026-05-02T00:00:00+09:00"
        assert when_given("Yesterday", "since", now=evening) == today - timedelta(days=1)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_iso_dates_and_times_are_utc_without_a_zone():
    assert when_given("2026-01-31", "since") == datetime(2026, 1, 31, tzinfo=timezone.utc)
    assert when_given("2026-01-31T12:00:00Z", "until").hour == 12


@pytest.mark.parametrize(
    "typed",
    ["", "2", "d", "-2d", "2x", "2 fortnights", "2026-13-01", "99999999999d", "999999999w",
     "tomorrow", "\x1b[31m2d", "2d" * 500, "١٢d"],
)  # fmt: skip
def test_anything_else_is_a_clear_error_naming_the_field(typed):
    with pytest.raises(InvalidMoment) as caught:
        when_given(typed, "--since", now=NOW)
    message = str(caught.value)
    assert message.startswith("--since ") and "is not a time; write 2d, 3h" in message
    assert "\x1b" not in message and len(message) < 250 and "datetime" not in message
    assert isinstance(caught.value, fa.FlowArtifactsError) and isinstance(caught.value, ConfigError)


def test_yesterday_across_a_change_of_clocks_is_that_days_midnight(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Berlin")  # clocks went forward on 29 March 2026
    time.tzset()
    try:
        after = datetime(2026, 3, 30, 10, 0, tzinfo=timezone.utc)
        assert (
            when_given("yesterday", "since", now=after).isoformat() == "2026-03-29T00:00:00+01:00"
        )
        assert when_given("today", "since", now=after).isoformat() == "2026-03-30T00:00:00+02:00"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
