"""Everything at once on PostgreSQL: tracking ingestion, handoff accepts and rejects, deal
edits and wins, and renewal checks, each in threads of their own for a bounded time (20 s by
default; ``ONEFUNNEL_CONCURRENCY_SECONDS``). Afterwards:

* no thread is stuck and no deadlock was left to PostgreSQL to break (none is raised);
* every contact's and account's cached stage equals the replay of its stage history, and the
  history chains (each change starts where the previous one ended);
* every handoff was decided at most once (one accept or reject, in its events and by the
  callers' own count of successes);
* every contract has at most one renewal deal and every renewed term one successor.

SQLite serialises every writer with one database lock, so the race this test looks for cannot
happen there: it is skipped on SQLite.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import OperationalError, connection, connections
from django.utils import timezone

from onefunnel.domain.access import AccessDeniedError
from onefunnel.domain.deals import DealError
from onefunnel.domain.handoffs import HandoffError
from onefunnel.domain.stages import (
    Cause,
    IllegalTransitionError,
    Stage,
    StageReason,
    current_stage,
)
from onefunnel.domain.stages import StageChange as Change
from onefunnel.domain.tracking import parse_batch
from onefunnel.models import (
    Account,
    Contact,
    Contract,
    Deal,
    Handoff,
    HandoffEvent,
    PipelineStage,
    StageChange,
)
from onefunnel.services.access import SYSTEM
from onefunnel.services.accounts.contracts import add_contract
from onefunnel.services.accounts.renewals import run_renewal_check
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.handoffs import accept_handoff, reject_handoff
from onefunnel.services.routing_config import set_rep
from onefunnel.services.sales.deals import update_deal, win_deal
from onefunnel.services.tracking import ingest

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SECONDS = float(os.environ.get("ONEFUNNEL_CONCURRENCY_SECONDS", "20"))
ACCOUNTS, PEOPLE = 6, 5  # contacts per account
REPS = 4
#: What a caller may be told when it loses a race: the rules refusing, in words.
EXPECTED = (
    HandoffError,
    DealError,
    IllegalTransitionError,
    AccessDeniedError,
    InputError,
    NotFoundError,
)


class Ledger:
    """What the threads did, and what went wrong (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.deadlocks: list[str] = []
        self.errors: list[str] = []
        self.decided: Counter[int] = Counter()

    def run(self, name: str, work: Callable[[random.Random], str | None], seed: int) -> None:
        """Call ``work`` until the time is up; sort each outcome."""
        rng = random.Random(seed)
        deadline = time.monotonic() + SECONDS
        try:
            while time.monotonic() < deadline:
                try:
                    outcome = work(rng)
                except EXPECTED as exc:
                    with self.lock:
                        self.refused[f"{name}: {type(exc).__name__}"] += 1
                except OperationalError as exc:
                    with self.lock:
                        target = self.deadlocks if "deadlock" in str(exc) else self.errors
                        target.append(f"{name}: {str(exc).splitlines()[0]}")
                except Exception as exc:  # reported by the assertions, not lost in the thread
                    with self.lock:
                        self.errors.append(f"{name}: {exc!r}")
                else:
                    if outcome is not None:
                        with self.lock:
                            self.done[outcome] += 1
        finally:
            connections.close_all()


def _seed() -> list[str]:
    """Reps, accounts with people, contracts due for renewal; the people's emails."""
    PipelineStage.objects.get_or_create(
        name="Qualification", defaults={"sequence": 10, "probability": 10}
    )
    for n in range(REPS):
        set_rep(f"rep{n}", capacity=0, create_user=True)  # nobody eligible: team-queue handoffs
    start = timezone.now() - timedelta(days=400)
    emails = []
    today = timezone.now().date()
    for a in range(ACCOUNTS):
        account = Account.objects.create(
            name=f"Acme {a}", domain=f"acme{a}.example", created_at=start
        )
        for p in range(PEOPLE):
            email = f"p{p}@acme{a}.example"
            Contact.objects.create(email=email, account=account, created_at=start)
            emails.append(email)
        # Half the accounts renew in 20 days (a renewal deal is due), half auto-renewed
        # yesterday (the check renews the term).
        ends = today + timedelta(days=20) if a % 2 else today - timedelta(days=1)
        add_contract(
            SYSTEM,
            account_id=account.pk,
            product="Platform",
            amount="12000",
            start=ends - timedelta(days=364),
            end=ends,
            auto_renew=a % 2 == 0,
        )
    return emails


def _ingestion(emails: list[str], thread: int) -> Callable[[random.Random], str | None]:
    counter = iter(range(10**9))

    def work(rng: random.Random) -> str:
        now = datetime.now(UTC)
        batch = []
        for _ in range(8):
            email = rng.choice(emails)
            n = next(counter)
            base = {"messageId": f"t{thread}-{n}", "userId": email, "timestamp": now.isoformat()}
            kind = rng.random()
            if kind < 0.15:
                batch.append({**base, "type": "identify", "traits": {"email": email}})
            elif kind < 0.3:
                batch.append({**base, "type": "track", "event": "Demo Requested"})
            elif kind < 0.45:
                batch.append({**base, "type": "track", "event": "Pricing Viewed"})
            else:
                batch.append({**base, "type": "page", "name": "Blog", "properties": {"path": "/b"}})
        parsed = parse_batch({"batch": batch}, received_at=now)
        result = ingest(parsed.events, received_at=now)
        assert result.accepted == len(batch), result.rejected
        return "tracking messages stored" if result.accepted else "tracking batch empty"

    return work


def _deciding(ledger: Ledger, reps: list[int]) -> Callable[[random.Random], str | None]:
    def work(rng: random.Random) -> str | None:
        pending = list(Handoff.objects.filter(status="pending").values_list("pk", flat=True)[:50])
        if not pending:
            time.sleep(0.02)
            return None
        handoff_id = rng.choice(pending)
        if rng.random() < 0.8:
            accept_handoff(handoff_id, actor_id=rng.choice(reps))
            outcome = "handoffs accepted"
        else:
            reject_handoff(handoff_id, reason=StageReason.NOT_NOW.value, actor_id=rng.choice(reps))
            outcome = "handoffs rejected"
        with ledger.lock:
            ledger.decided[handoff_id] += 1
        return outcome

    return work


def _deal_edits(rng: random.Random) -> str | None:
    open_deals = list(Deal.objects.filter(status="open").values_list("pk", flat=True)[:100])
    if not open_deals:
        time.sleep(0.02)
        return None
    deal_id = rng.choice(open_deals)
    if rng.random() < 0.1:
        win_deal(deal_id, actor=SYSTEM)
        return "deals won"
    amount = Decimal(rng.randrange(1_000, 90_000))
    update_deal(deal_id, actor=SYSTEM, amount=amount, expected_close=timezone.now().date())
    return "deals edited"


def _renewal_checks(rng: random.Random) -> str:
    time.sleep(rng.uniform(0, 0.1))  # a scheduler's pace, not a busy loop starving the rest
    check = run_renewal_check()
    return "renewal checks" if check is not None else "renewal checks (nothing)"


def _replay(rows: list[StageChange]) -> Stage | None:
    history = [
        Change(
            at=r.at,
            from_stage=Stage(r.from_stage) if r.from_stage else None,
            to_stage=Stage(r.to_stage),
            cause=Cause(r.cause),
        )
        for r in rows
    ]
    return current_stage(history)


def test_everything_at_once_keeps_the_records_whole() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises every writer (one database lock): no race to test")
    emails = _seed()
    reps = [int(r) for r in set_rep_ids()]
    ledger = Ledger()
    workers: list[tuple[str, Callable[[random.Random], str | None]]] = [
        ("ingestion 1", _ingestion(emails, 1)),
        ("ingestion 2", _ingestion(emails, 2)),
        ("handoffs 1", _deciding(ledger, reps)),
        ("handoffs 2", _deciding(ledger, reps)),
        ("deals", _deal_edits),
        ("renewals 1", _renewal_checks),
        ("renewals 2", _renewal_checks),
    ]
    threads = [
        threading.Thread(target=ledger.run, args=(name, work, seed), name=name)
        for seed, (name, work) in enumerate(workers)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 120)
    elapsed = time.monotonic() - started
    stuck = [t.name for t in threads if t.is_alive()]
    assert stuck == [], f"threads still running (a lock never released?): {stuck}"
    assert ledger.errors == []
    assert ledger.deadlocks == []

    # Something of each kind happened: the test cannot pass by doing nothing.
    for outcome in ("tracking messages stored", "handoffs accepted", "deals edited"):
        assert ledger.done[outcome] > 0, (outcome, ledger.done)
    assert Deal.objects.filter(kind="renewal").exists()

    # Every cached stage is the replay of its history.
    wrong = []
    for contact in Contact.objects.all():
        rows = list(StageChange.objects.filter(contact_id=contact.pk).order_by("id"))
        replayed = _replay(rows)
        if (replayed.value if replayed else None) != contact.stage:
            wrong.append(f"contact#{contact.pk}: cached {contact.stage}, history {replayed}")
    for account in Account.objects.all():
        rows = list(StageChange.objects.filter(account_id=account.pk).order_by("id"))
        replayed = _replay(rows)
        if (replayed.value if replayed else None) != account.stage:
            wrong.append(f"account#{account.pk}: cached {account.stage}, history {replayed}")
    assert wrong == []

    # Every handoff decided at most once.
    decisions = Counter(
        HandoffEvent.objects.filter(kind__in=("accepted", "rejected")).values_list(
            "handoff_id", flat=True
        )
    )
    assert [h for h, n in decisions.items() if n > 1] == []
    assert [h for h, n in ledger.decided.items() if n > 1] == []
    for handoff in Handoff.objects.filter(status__in=("accepted", "rejected")):
        assert decisions[handoff.pk] == 1, f"handoff#{handoff.pk} {handoff.status} without event"

    # One renewal deal per contract, one successor per renewed term.
    renewal_links = Counter(
        Contract.objects.exclude(renewal_deal=None).values_list("renewal_deal_id", flat=True)
    )
    assert [d for d, n in renewal_links.items() if n > 1] == []
    successors = Counter(
        Contract.objects.exclude(previous=None).values_list("previous_id", flat=True)
    )
    assert [c for c, n in successors.items() if n > 1] == []

    numbers = {
        "test": "concurrency",
        "seconds": round(elapsed, 1),
        "threads": len(threads),
        "done": dict(ledger.done),
        "refused": dict(ledger.refused),
        "touchpoints": int(
            connection.cursor().execute("SELECT count(*) FROM onefunnel_touchpoint").fetchone()[0]
        ),
        "stage_changes": StageChange.objects.count(),
        "handoffs": Handoff.objects.count(),
        "deals": Deal.objects.count(),
        "contracts": Contract.objects.count(),
    }
    line = json.dumps(numbers)
    print(line)
    if out := os.environ.get("ONEFUNNEL_RELIABILITY_LOG"):
        with open(out, "a") as handle:
            handle.write(line + "\n")


def set_rep_ids() -> list[int]:
    """The seeded reps' user ids."""
    from django.contrib.auth.models import User

    return list(User.objects.filter(username__startswith="rep").values_list("pk", flat=True))
