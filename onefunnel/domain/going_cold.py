"""Going cold: a lead that stops engaging goes back to marketing.

A contact in a stage listed here (by default consideration after 30 days, intent after 21) with
no engagement for that many days moves to nurture with the reason ``went_cold``. *Engagement* is
any touch of the contact (marketing or sales: a page view, an email click, a logged call); a
contact that entered its stage recently is not cold however long ago its last touch was, since
the days are counted from the later of the two.

Pure: the configuration and the rule; the worker's sweep (``services.marketing.going_cold``)
applies them through the stage service.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from onefunnel.domain.stages import Stage

#: Days without engagement after which a lead in the stage goes cold.
DEFAULT_COLD_AFTER_DAYS: Mapping[Stage, int] = {Stage.CONSIDERATION: 30, Stage.INTENT: 21}
#: The stages a lead may go cold from: known, engaged leads before a deal is won.
COLD_STAGES = frozenset({Stage.CONSIDERATION, Stage.INTENT})
MAX_DAYS = 3650


def parse_cold_after(text: str) -> dict[Stage, int]:
    """Read ``"consideration=30,intent=21"`` (the ``ONEFUNNEL_COLD_AFTER_DAYS`` setting); an
    empty text is the defaults. ValueError naming the bad part."""
    if not text.strip():
        return dict(DEFAULT_COLD_AFTER_DAYS)
    out: dict[Stage, int] = {}
    for part in text.split(","):
        name, sep, days = part.partition("=")
        try:
            stage = Stage(name.strip())
        except ValueError:
            raise ValueError(f"cold_after: unknown stage {name.strip()!r}") from None
        if stage not in COLD_STAGES:
            raise ValueError(
                f"cold_after: {stage.value} cannot go cold (only consideration and intent)"
            )
        if not sep or not days.strip().isdigit() or not 1 <= int(days) <= MAX_DAYS:
            raise ValueError(
                f"cold_after: {stage.value} needs a number of days from 1 to {MAX_DAYS}"
            )
        out[stage] = int(days)
    return out


def cold_cutoff(now: datetime, days: int) -> datetime:
    """The moment before which a lead's last engagement (or stage entry) makes it cold."""
    return now - timedelta(days=days)


def is_cold(
    last_engaged: datetime | None, entered_stage: datetime, now: datetime, days: int
) -> bool:
    """True when neither the last engagement nor the entry into the stage is within ``days``."""
    latest = max(last_engaged, entered_stage) if last_engaged is not None else entered_stage
    return latest < cold_cutoff(now, days)
