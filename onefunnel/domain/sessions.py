"""Sessions: a visitor's events with no gap over 30 minutes, labelled by their first event's source.

A site instrumented with Segment sends its UTM parameters (``context.campaign``) and the outside
referrer with the landing page only: the events after it in the same visit arrive without them
and, judged alone, would each be ``direct``. Attribution is done at the level the field does it:

* a *session* is a visitor's events in time order with no gap over ``gap`` (30 minutes by
  default), and a new one starts at an event that brings a source of its own (UTM tags or an
  outside referrer: not ``direct``) different from the session's — a new campaign;
* the session's first event keeps its own source; later events without a source of their own
  inherit the session's channel and campaign. An event with its own source equal to the
  session's keeps it (it is the same).

Only the labels change: every event stays one touch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from onefunnel.domain.touches import Channel

DEFAULT_SESSION_GAP = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class Source:
    """Where a touch came from: its channel and campaign (an id, or None)."""

    channel: Channel
    campaign: int | None = None

    @property
    def given(self) -> bool:
        """Whether the event brought a source of its own (not plain direct traffic)."""
        return self.channel is not Channel.DIRECT or self.campaign is not None


@dataclass(frozen=True, slots=True)
class LastEvent:
    """What is known of a visitor's last event before the ones at hand: its time and the
    (effective) source it was labelled with."""

    at: datetime
    source: Source


@dataclass(frozen=True, slots=True)
class Sessioned:
    """One event's session (numbered from 0 within the call; 0 may continue ``previous``),
    whether it starts that session, and the source it is attributed to."""

    session: int
    starts: bool
    source: Source


def starts_session(previous: LastEvent | None, at: datetime, own: Source, gap: timedelta) -> bool:
    """Whether an event at ``at`` with its own source ``own`` starts a new session."""
    if previous is None or at < previous.at or at - previous.at > gap:
        return True
    return own.given and own != previous.source


def sessionise(
    events: Sequence[tuple[datetime, Source]],
    *,
    previous: LastEvent | None = None,
    gap: timedelta = DEFAULT_SESSION_GAP,
) -> list[Sessioned]:
    """Sessions and attributed sources of one visitor's events, given in time order.

    ``previous`` is the visitor's last event before these (already labelled), so a session can
    continue across batches. An event earlier than ``previous`` (arrived late) starts a session
    of its own rather than joining one that began after it.
    """
    out: list[Sessioned] = []
    last = previous
    session = 0
    for index, (at, own) in enumerate(events):
        starts = last is None or starts_session(last, at, own, gap)
        if starts and (index > 0 or previous is not None):
            session += 1
        label = own if starts or last is None else last.source
        out.append(Sessioned(session, starts, label))
        last = LastEvent(at, label)
    return out
