"""Expansion: suggestions of upsell and cross-sell for the account manager, each with its
evidence — usage above the contracted plan, new contacts engaging from a customer account,
intent touches on a product the account does not have (``properties.product``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, Exists, OuterRef, Q, Sum

from onefunnel.analytics.cache import cached
from onefunnel.domain.access import Actor
from onefunnel.domain.contracts import ContractStatus
from onefunnel.domain.health import ExpansionFacts, expansion_suggestions
from onefunnel.domain.touches import TouchKind
from onefunnel.models import Account, Contract, Touchpoint
from onefunnel.services.accounts.health import _config, _moment, customer_accounts
from onefunnel.services.accounts.renewals import visible_account_ids
from onefunnel.services.errors import NotFoundError

_INTENT_KINDS = [TouchKind.HAND_RAISE.value, TouchKind.HIGH_INTENT_PAGE.value, TouchKind.DEMO.value]
_ENGAGING = [
    TouchKind.HIGH_INTENT_PAGE.value, TouchKind.EMAIL_CLICK.value,
    TouchKind.CONTENT_DOWNLOAD.value, TouchKind.WEBINAR.value, TouchKind.EVENT.value,
    TouchKind.FORM_SUBMIT.value, TouchKind.HAND_RAISE.value, TouchKind.MEETING.value,
    TouchKind.DEMO.value, TouchKind.CALL.value,
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Suggestion:
    """An expansion suggestion for one account, with its evidence."""

    account_id: int
    account: str
    owner: str | None
    signal: str
    deal_kind: str
    product: str | None
    evidence: str


def suggestions(
    actor: Actor,
    *,
    account_id: int | None = None,
    as_of: date | None = None,
    now: datetime | None = None,
) -> list[Suggestion]:
    """Expansion suggestions for the customer accounts the actor sees (or one account)."""
    moment = _moment(as_of, now)
    accounts_q = customer_accounts().select_related("owner")
    visible = visible_account_ids(actor)
    if account_id is not None:
        if not Account.objects.filter(pk=account_id).exists():
            raise NotFoundError(f"account_id: no account #{account_id}")
        if visible is not None and account_id not in visible:
            return []
        return _suggestions(list(accounts_q.filter(pk=account_id)), moment)
    # Every customer's suggestions are the same for every reader: computed once and kept (per
    # minute, until the data changes); each reader keeps the accounts they see.
    every = cached(
        "expansion",
        (moment,),
        lambda: _suggestions(list(accounts_q.order_by("id")), moment),
        present=() if as_of is None and now is None else None,
    )
    return [s for s in every if visible is None or s.account_id in visible]


def _suggestions(accounts: list[Account], moment: datetime) -> list[Suggestion]:
    since = moment - timedelta(days=30)
    ids = [a.pk for a in accounts]
    config, _version = _config()
    day = moment.date()
    running = Contract.objects.filter(
        account_id__in=ids, status=ContractStatus.ACTIVE.value, start_date__lte=day
    )
    plan: dict[int, int | None] = {}
    products: dict[int, set[str]] = defaultdict(set)
    for row in running.values("account_id").annotate(
        plan=Sum("plan_usage"), unlimited=Count("id", filter=Q(plan_usage__isnull=True))
    ):
        plan[row["account_id"]] = None if row["unlimited"] else row["plan"]
    for acc, product in running.values_list("account_id", "product"):
        products[acc].add(product)
    recent = Touchpoint.objects.filter(
        account_id__in=ids, occurred_at__gte=since, occurred_at__lt=moment
    )
    usage = {
        r["account_id"]: r["n"]
        for r in recent.filter(properties__event__in=list(config.usage_events) or [""])
        .values("account_id")
        .annotate(n=Count("id"))
    }
    # First seen in the window: a touch in it (read through the account's window of the
    # journey index) and none before it, under any account (one seek in the (contact,
    # occurred_at) index) — rather than every customer contact's whole history grouped for its
    # first touch.
    earlier = Touchpoint.objects.filter(contact_id=OuterRef("contact_id"), occurred_at__lt=since)
    first_seen = (
        recent.filter(contact__isnull=False)
        .exclude(Exists(earlier))
        .values("account_id", "contact_id", "contact__email")
        .annotate(engaged=Count("id", filter=Q(kind__in=_ENGAGING)))
        .filter(engaged__gt=0)
        .order_by("account_id", "contact_id")
    )
    new_contacts: dict[int, list[str]] = defaultdict(list)
    for r in first_seen:
        new_contacts[r["account_id"]].append(r["contact__email"] or f"contact #{r['contact_id']}")
    intent: dict[int, dict[str, int]] = defaultdict(dict)
    for r in (
        recent.filter(kind__in=_INTENT_KINDS, properties__has_key="product")
        .values("account_id", "properties__product")
        .annotate(n=Count("id"))
    ):
        product = r["properties__product"]
        if isinstance(product, str) and product:
            intent[r["account_id"]][product] = r["n"]
    out = []
    for account in accounts:
        facts = ExpansionFacts(
            usage_30=usage.get(account.pk, 0),
            plan_usage=plan.get(account.pk),
            new_contacts_engaging=tuple(new_contacts.get(account.pk, ())),
            contracted_products=frozenset(products.get(account.pk, set())),
            intent_products=intent.get(account.pk, {}),
        )
        owner = account.owner
        for s in expansion_suggestions(facts):
            out.append(
                Suggestion(
                    account_id=account.pk,
                    account=account.name,
                    owner=owner.get_username() if owner is not None else None,
                    signal=s.signal.value,
                    deal_kind=s.deal_kind,
                    product=s.product,
                    evidence=s.evidence,
                )
            )
    return out


__all__ = ["Suggestion", "suggestions"]
