"""The demo's history ends on the day it is loaded, or on ONEFUNNEL_DEMO_ANCHOR."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from onefunnel.services.demo.company import _anchor


def test_the_history_ends_today_unless_a_day_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ONEFUNNEL_DEMO_ANCHOR", raising=False)
    before = datetime.now(UTC)
    anchor = _anchor()
    after = datetime.now(UTC)
    # Midnight UTC of the day ten hours ago: today's demo requests always come after it.
    days = {(t - timedelta(hours=10)).date() for t in (before, after)}
    assert anchor in {datetime.combine(d, time(), UTC) for d in days}
    assert anchor <= before - timedelta(hours=9)
    monkeypatch.setenv("ONEFUNNEL_DEMO_ANCHOR", "2026-10-31")
    assert _anchor() == datetime(2026, 10, 31, tzinfo=UTC)


def test_a_bad_anchor_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONEFUNNEL_DEMO_ANCHOR", "31/10/2026")
    with pytest.raises(ValueError, match="ONEFUNNEL_DEMO_ANCHOR"):
        _anchor()
