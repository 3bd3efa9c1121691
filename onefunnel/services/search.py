"""One search box: contacts by name or email, accounts by name or domain, deals by name —
the deals only those the actor may read (work records follow ``domain/access.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Concat

from onefunnel.domain.access import Actor, Role
from onefunnel.models import Account, Contact, Deal

MAX_QUERY = 200


@dataclass(frozen=True, slots=True)
class Hit:
    """One result: what it is, its id, its title and a line of detail."""

    kind: str  # contact, account, deal
    id: int
    title: str
    detail: str


@dataclass(frozen=True, slots=True)
class SearchResults:
    """Results per kind (at most ``limit`` each) for a query."""

    query: str
    contacts: tuple[Hit, ...]
    accounts: tuple[Hit, ...]
    deals: tuple[Hit, ...]

    @property
    def count(self) -> int:
        """How many results in all."""
        return len(self.contacts) + len(self.accounts) + len(self.deals)


def _deals_for(actor: Actor) -> QuerySet[Deal]:
    deals = Deal.objects.all()
    if actor.roles & {Role.MARKETING, Role.LEADERSHIP, Role.ADMIN}:
        return deals
    if actor.user_id is None or not actor.roles & {
        Role.SALES_REP,
        Role.TEAM_LEAD,
        Role.ACCOUNT_MANAGER,
    }:
        return deals.none()
    allowed = Q(owner_id=actor.user_id) | Q(account__owner_id=actor.user_id)
    if actor.has(Role.TEAM_LEAD) and actor.team is not None:
        allowed |= Q(owner__rep_profile__team=actor.team)
    return deals.filter(allowed)


def search(query: str, actor: Actor, *, limit: int = 10) -> SearchResults:
    """Everything matching ``query`` (case-insensitive, anywhere in the field); an empty
    query finds nothing."""
    q = " ".join(query.split())[:MAX_QUERY]
    if not q:
        return SearchResults(q, (), (), ())
    contacts = (
        Contact.objects.annotate(full=Concat("first_name", Value(" "), "last_name"))
        .filter(Q(email__icontains=q) | Q(full__icontains=q))
        .select_related("account")
        .order_by("last_name", "first_name", "pk")[:limit]
    )
    accounts = Account.objects.filter(Q(name__icontains=q) | Q(domain__icontains=q)).order_by(
        "name", "pk"
    )[:limit]
    deals = (
        _deals_for(actor)
        .filter(name__icontains=q)
        .select_related("account", "pipeline_stage")
        .order_by("-created_at", "pk")[:limit]
    )
    return SearchResults(
        q,
        tuple(
            Hit(
                "contact",
                c.pk,
                f"{c.first_name} {c.last_name}".strip() or c.email or f"contact #{c.pk}",
                " · ".join(x for x in (c.email, c.account.name if c.account else None) if x),
            )
            for c in contacts
        ),
        tuple(Hit("account", a.pk, a.name, a.domain or "") for a in accounts),
        tuple(
            Hit("deal", d.pk, d.name, f"{d.account.name} · {d.pipeline_stage.name} · {d.status}")
            for d in deals
        ),
    )
