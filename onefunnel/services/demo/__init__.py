"""The demo company: ``generate_demo`` simulates one (journeys.py) and loads it (load.py).

On a fresh, migrated database it needs no other step. The seed and size are recorded in each
demo account's ``properties["demo"]``, so asking for the same demo twice returns what is
there (``already_loaded=True``) instead of loading it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from onefunnel.domain.stages import Stage, Team
from onefunnel.models import (
    Account,
    Campaign,
    Contact,
    Contract,
    Deal,
    Handoff,
    Spend,
    StageChange,
    Touchpoint,
)
from onefunnel.services.demo.journeys import ANCHOR, simulate
from onefunnel.services.demo.load import (
    DATA_MODELS,
    DEMO_MARKER,
    empty_tables,
    load_company,
    price_handoffs,
)
from onefunnel.services.demo.nurture import demo_request, write_nurture
from onefunnel.services.demo.rows import DemoSize
from onefunnel.services.errors import InputError

__all__ = ["ANCHOR", "DemoSize", "DemoSummary", "generate_demo"]


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """What the demo database holds, and how long the call took."""

    seed: int
    size: DemoSize
    accounts: int
    contacts: int
    campaigns: int
    spend_rows: int
    touchpoints: int
    stage_changes: int
    handoffs: int
    deals: int
    users: int
    seconds: float
    already_loaded: bool = False
    contracts: int = 0


def generate_demo(
    *,
    seed: int = 42,
    size: DemoSize = DemoSize.SMALL,
    reset: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> DemoSummary:
    """Simulate a demo company and write it to the database.

    ``progress(phase, done, total)`` is called as work proceeds. A database that already
    holds this very demo (same seed and size) is left alone and summarised with
    ``already_loaded=True``; one holding any other data raises InputError unless ``reset``
    is true, in which case all onefunnel data is deleted first (users and the pipeline stay).
    """
    started = time.perf_counter()
    size = DemoSize(size)
    if not reset and _has_data():
        if _marker() == {"seed": seed, "size": size.value}:
            return _summary(seed, size, started, already_loaded=True)
        raise InputError(
            "reset: the database already has data; pass reset to replace it with the demo"
        )
    company = simulate(seed, size, progress)
    if reset:
        empty_tables()
    load_company(company, progress)
    write_nurture(seed)
    # The nurture's touches (sign-ups, email opens and clicks) join the leads' journeys: the
    # handoffs are priced again over them, as the product prices a handoff over its touches.
    price_handoffs(progress)
    _todays_hand_raises(seed, size)
    # Counted from the database, as a demo already loaded is: today's leads included.
    return _summary(seed, size, started, already_loaded=False)


#: Leads who raise their hand on the day the demo is loaded (its history ends at ANCHOR), so
#: that the reps' queues have work in them when someone tries the demo.
TODAYS_HAND_RAISES = {DemoSize.SMALL: 6, DemoSize.MEDIUM: 12, DemoSize.LARGE: 24}


def _todays_hand_raises(seed: int, size: DemoSize) -> None:
    """Today's demo requests come in through the web site's "Request a demo" form, as live
    submissions: a hand-raise moves the contact to intent, which opens a routed handoff with
    its SLA, score explanation, cost and expected value — as a visitor's would. The leads are
    the best-scored known contacts in consideration; each request comes from the campaign of
    their latest touch."""
    now = timezone.now()
    leads = Contact.objects.filter(
        stage=Stage.CONSIDERATION, email__isnull=False, account__isnull=False
    ).order_by("-score", "pk")
    for i, contact_id in enumerate(leads.values_list("pk", flat=True)[: TODAYS_HAND_RAISES[size]]):
        demo_request(seed, contact_id, now - timedelta(minutes=23 * (i + 1)))


def _has_data() -> bool:
    return any(model._default_manager.exists() for model in DATA_MODELS)


def _marker() -> object:
    properties = Account.objects.order_by("pk").values_list("properties", flat=True).first()
    return properties.get(DEMO_MARKER) if isinstance(properties, dict) else None


def _summary(seed: int, size: DemoSize, started: float, *, already_loaded: bool) -> DemoSummary:
    staff = get_user_model()._default_manager.filter(groups__name__in=[t.value for t in Team])
    return DemoSummary(
        seed=seed,
        size=size,
        accounts=Account.objects.count(),
        contacts=Contact.objects.count(),
        campaigns=Campaign.objects.count(),
        spend_rows=Spend.objects.count(),
        touchpoints=Touchpoint.objects.count(),
        stage_changes=StageChange.objects.count(),
        handoffs=Handoff.objects.count(),
        deals=Deal.objects.count(),
        users=staff.distinct().count(),
        seconds=time.perf_counter() - started,
        already_loaded=already_loaded,
        contracts=Contract.objects.count(),
    )
