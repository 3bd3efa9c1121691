"""Two reps accepting the same handoff at the same moment: exactly one wins (PostgreSQL, where
the row lock is what serialises them; SQLite serialises every writer already)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections

from onefunnel.domain.handoffs import HandoffError
from onefunnel.models import Contact, Deal, Handoff, HandoffEvent, PipelineStage
from onefunnel.services.handoffs import accept_handoff, open_manual_handoff
from onefunnel.services.routing_config import set_rep

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REPS = 8


def test_parallel_accepts_of_one_handoff_have_exactly_one_winner(
    make_contact: Callable[..., Contact],
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    # A transactional test case starts from a flushed database: seed the pipeline a deal needs.
    PipelineStage.objects.get_or_create(
        name="Qualification", defaults={"sequence": 10, "probability": 10}
    )
    for n in range(REPS):
        set_rep(f"rep{n}", capacity=0, create_user=True)  # nobody eligible: a team-queue handoff
    contact = make_contact()
    handoff = open_manual_handoff(contact.email or "")
    assert handoff.queued
    reps = list(User.objects.filter(username__startswith="rep").values_list("pk", flat=True))
    barrier = threading.Barrier(len(reps))
    outcomes: list[str] = []

    def accept(rep_id: int) -> None:
        try:
            barrier.wait(timeout=30)
            accept_handoff(handoff.id, actor_id=rep_id)
            outcomes.append(f"won:{rep_id}")
        except HandoffError as exc:
            outcomes.append(f"lost:{exc}")
        except Exception as exc:  # reported by the assertions below, not lost in the thread
            outcomes.append(f"error:{exc!r}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=accept, args=(pk,)) for pk in reps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    winners = [o for o in outcomes if o.startswith("won:")]
    losers = [o for o in outcomes if o.startswith("lost:")]
    assert [o for o in outcomes if o.startswith("error:")] == []
    assert len(winners) == 1
    assert len(losers) == REPS - 1
    assert all("status: handoff is already accepted" in o for o in losers)
    stored = Handoff.objects.get(pk=handoff.id)
    assert f"won:{stored.owner_id}" == winners[0]
    assert Deal.objects.count() == 1
    assert HandoffEvent.objects.filter(handoff_id=handoff.id, kind="accepted").count() == 1
