"""The records behind a count, readable: names, stages, statuses for the ids a records query
returned (``analytics.records``), for the click-through page and its CSV.

Contacts and accounts are the shared record (every role reads them). A handoff's or a deal's
own fields (status, reason, owner; name, amount) are shown only to whom the rule book lets read
that work (``Action.READ``); for others the row keeps its contact and says ``(not yours)``, so
the list still has one row per counted record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from onefunnel.analytics.engines import DjangoEngine
from onefunnel.analytics.records import RecordsQuery
from onefunnel.analytics.table import Table
from onefunnel.domain.access import Action, Actor, Work, may
from onefunnel.models import Account, Campaign, Contact, Deal, Handoff


@dataclass(frozen=True, slots=True)
class RecordRow:
    """One counted record: the contact (always, when there is one) and what the row is."""

    kind: str
    at: datetime | None
    contact_id: int | None
    contact: str
    stage: str
    account_id: int | None
    account: str
    handoff_id: int | None
    status: str
    reason: str
    owner: str
    deal_id: int | None
    deal: str
    amount: Decimal | None
    detail: str


@dataclass(frozen=True, slots=True)
class RecordList:
    """The records of one count in time order: all of them, or the first ones when named with
    a limit (``total`` counts them all)."""

    rows: tuple[RecordRow, ...]
    total: int

    def table(self) -> Table:
        """The list as a table (for the CSV download)."""
        columns = RecordRow.__dataclass_fields__
        return Table.of(tuple(columns), [tuple(getattr(r, c) for c in columns) for r in self.rows])


def _ids(table: Table, column: str) -> set[int]:
    return {int(v) for v in table.column(column) if isinstance(v, (int, float))}


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, (int, float)) else None


HIDDEN = "(not yours)"


def records_behind(query: RecordsQuery, actor: Actor, *, limit: int | None = None) -> RecordList:
    """Run the query and name what it found, as ``actor`` may read it (the first ``limit``
    records only, when given: a page shows the first ones and says how many there are)."""
    return name_records(query.run(DjangoEngine()), actor, limit=limit)


def name_records(table: Table, actor: Actor, *, limit: int | None = None) -> RecordList:
    """Name the records of a table of ``analytics.records.COLUMNS``, as ``actor`` may read
    them (a deal or handoff ``actor`` may not read keeps its row, marked ``(not yours)``);
    with ``limit``, only the first ``limit`` records (``total`` still counts them all)."""
    total = len(table)
    if limit is not None and total > limit:
        # Naming is most of the cost of a long list: name only what will be shown.
        table = Table(table.columns, table.rows[:limit])
    contacts = {
        c.pk: c
        for c in Contact.objects.filter(pk__in=_ids(table, "contact_id")).only(
            "first_name", "last_name", "email", "stage"
        )
    }
    accounts = dict(
        Account.objects.filter(pk__in=_ids(table, "account_id")).values_list("pk", "name")
    )
    handoffs = {
        h.pk: h
        for h in Handoff.objects.filter(pk__in=_ids(table, "handoff_id")).select_related(
            "owner", "routing"
        )
        if _may_read_handoff(actor, h)
    }
    deals = {
        d.pk: d
        for d in Deal.objects.filter(pk__in=_ids(table, "deal_id")).select_related("account")
        if may(actor, Action.READ, Work("deal", d.pk, owner_id=d.owner_id,
                                         account_owner_id=d.account.owner_id
                                         if d.account_id else None))
    }  # fmt: skip
    rows = []
    for rec in table.to_records():
        contact = contacts.get(_int(rec["contact_id"]) or 0)
        handoff = handoffs.get(_int(rec["handoff_id"]) or 0)
        deal = deals.get(_int(rec["deal_id"]) or 0)
        at = rec["at"]
        rows.append(
            RecordRow(
                kind=str(rec["kind"]),
                at=at if isinstance(at, datetime) else None,
                contact_id=_int(rec["contact_id"]),
                contact=str(contact) if contact else "",
                stage=(contact.stage or "") if contact else "",
                account_id=_int(rec["account_id"]),
                account=accounts.get(_int(rec["account_id"]) or 0, ""),
                handoff_id=handoff.pk if handoff else None,
                status=handoff.status if handoff else _hidden(rec["handoff_id"]),
                reason=(handoff.reason or "") if handoff else "",
                owner=handoff.owner.get_username() if handoff and handoff.owner else "",
                deal_id=deal.pk if deal else None,
                deal=deal.name if deal else _hidden(rec["deal_id"]),
                amount=Decimal(str(deal.amount)) if deal and deal.amount is not None else None,
                detail=str(rec["detail"] or ""),
            )
        )
    return RecordList(tuple(rows), total)


def _may_read_handoff(actor: Actor, handoff: Handoff) -> bool:
    routing = getattr(handoff, "routing", None)
    team = routing.team if routing is not None else handoff.team_queue
    return may(actor, Action.READ, Work("handoff", handoff.pk, owner_id=handoff.owner_id,
                                        team=team))  # fmt: skip


def _hidden(value: object) -> str:
    return HIDDEN if isinstance(value, (int, float)) else ""


def campaign_names(keys: set[str]) -> dict[str, str]:
    """Campaign names by UTM key (reports group by the key; pages show the name)."""
    return dict(Campaign.objects.filter(utm_campaign__in=keys).values_list("utm_campaign", "name"))
