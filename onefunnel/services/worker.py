"""The background worker's one pass: handle breached SLAs, run the renewal check (open due
renewal deals, renew and end contract terms), send leads that went cold to nurture, refresh the
segments that are due, then send due webhooks and emails, and read the monitored inbox
(``ONEFUNNEL_INBOUND_IMAP_URL``) when there is one.

Each pass is idempotent and reads its state from the database, so the worker can be stopped,
restarted or run by cron (``onefunnel worker --once``) without losing or repeating anything;
queue reads evaluate breaches too, and reads of renewals run the renewal check, so a stopped
worker only delays webhooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.utils import timezone

from onefunnel.models import WebhookDelivery
from onefunnel.services.accounts.renewals import run_renewal_check
from onefunnel.services.handoffs import evaluate_breaches
from onefunnel.services.marketing.going_cold import sweep as sweep_cold
from onefunnel.services.marketing.inbound_mail import read_monitored_inbox
from onefunnel.services.marketing.segments import refresh_due
from onefunnel.services.marketing.sequence_sending import send_due
from onefunnel.services.webhooks import deliver_due


@dataclass(frozen=True, slots=True)
class WorkerPass:
    """What one pass did."""

    at: datetime
    breaches: int
    reassigned: int
    delivered: int
    retrying: int
    failed: int
    renewals_opened: int = 0
    contracts_renewed: int = 0
    contracts_ended: int = 0
    went_cold: int = 0
    segments_refreshed: int = 0
    emails_sent: int = 0
    emails_bounced: int = 0
    inbound_read: int = 0


#: When this process last finished a going-cold sweep: the sweep reads every lead in the
#: swept stages, so a worker looping every 30 s runs it once per ONEFUNNEL_COLD_SWEEP_MINUTES
#: (and again at once while a capped sweep has more to move). ``worker --once`` always sweeps.
_last_cold_sweep: datetime | None = None
COLD_SWEEP_LIMIT = 1000


def _sweep_cold_if_due(moment: datetime) -> int:
    global _last_cold_sweep
    every = timedelta(minutes=settings.ONEFUNNEL_COLD_SWEEP_MINUTES)
    last = _last_cold_sweep
    if last is not None and timedelta(0) <= moment - last < every:
        return 0
    result = sweep_cold(now=moment, limit=COLD_SWEEP_LIMIT)
    _last_cold_sweep = moment if result.complete else None
    return result.total


def run_once(*, now: datetime | None = None, client: httpx.Client | None = None) -> WorkerPass:
    """Evaluate every overdue handoff, run the renewal check, then attempt every due webhook
    delivery."""
    moment = now or timezone.now()
    breaches = evaluate_breaches(now=moment)
    renewals = run_renewal_check(now=moment)
    cold = _sweep_cold_if_due(moment)
    refreshed = refresh_due(now=moment)
    results = deliver_due(now=moment, client=client)
    emails = send_due(now=moment)
    inbound = read_monitored_inbox()
    statuses = [r.status for r in results]
    return WorkerPass(
        at=moment,
        breaches=len(breaches),
        reassigned=sum(1 for b in breaches if b.reassigned_to is not None),
        delivered=statuses.count(WebhookDelivery.DELIVERED),
        retrying=statuses.count(WebhookDelivery.PENDING),
        failed=statuses.count(WebhookDelivery.FAILED),
        renewals_opened=len(renewals.opened),
        contracts_renewed=len(renewals.renewed),
        contracts_ended=len(renewals.ended),
        went_cold=cold,
        segments_refreshed=len(refreshed),
        emails_sent=emails.sent,
        emails_bounced=emails.bounced,
        inbound_read=inbound,
    )
