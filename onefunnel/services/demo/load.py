"""Write a simulated company to the database, fast and in one transaction.

Rows are inserted with ``executemany`` on Django's connection and explicit primary keys, in
dependency order (users, accounts, campaigns, spend, contacts, deals, contracts, handoffs,
touchpoints — the customers' own after the marketing ones — and stage changes). Explicit keys let every foreign key be computed from the simulation's
positions without reading ids back; the tables are empty of onefunnel data when this runs
(``generate_demo`` checks), and the primary-key sequences are reset afterwards so later
inserts carry on from there. The cached ``stage`` of each contact and account is the last
stage change of that subject, computed from the same arrays that are written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.color import no_style
from django.db import connection, models, transaction

from onefunnel.domain.stages import Cause, Team
from onefunnel.domain.touches import default_team
from onefunnel.models import (
    Account,
    Activity,
    Campaign,
    Contact,
    ContactAlias,
    Contract,
    Deal,
    DealForecast,
    DealHistory,
    EmailSend,
    EmailSuppression,
    Enrollment,
    Form,
    FormSubmission,
    Handoff,
    HandoffCredit,
    PipelineStage,
    Segment,
    SegmentChange,
    SegmentMember,
    SegmentRefresh,
    SequenceStep,
    Spend,
    StageChange,
    Task,
    Touchpoint,
)
from onefunnel.models import Sequence as SequenceRow
from onefunnel.models.routing import HandoffEvent, HandoffRouting, RepProfile
from onefunnel.models.scoring import ContactScore
from onefunnel.models.teams import ensure_team_groups
from onefunnel.models.webhooks import WebhookDelivery
from onefunnel.services.demo.company import ANCHOR_TS, DAY
from onefunnel.services.demo.rows import (
    CAUSES,
    CHANNELS,
    DEAL_KINDS,
    DEAL_STATUSES,
    HANDOFF_STATUSES,
    LOST_REASONS,
    PRODUCTS,
    REASONS,
    STAGES,
    TEAMS,
    TOUCH_KINDS,
    TRIGGERS,
    USAGE_EVENTS,
    Ints,
    SimulatedCompany,
    code,
)
from onefunnel.services.demo.sales import write_sales_records
from onefunnel.services.planner import refresh_statistics

ProgressFn = Callable[[str, int, int], None]
BATCH = 20_000
#: Where the demo's seed and size are recorded: ``Account.properties[DEMO_MARKER]``.
DEMO_MARKER = "demo"
#: Data tables in the order they can be emptied (children before parents).
DATA_MODELS: tuple[type[models.Model], ...] = (
    # Capture and nurture (services/demo/nurture.py writes them through the services).
    EmailSend,
    Enrollment,
    EmailSuppression,
    SequenceStep,
    SequenceRow,
    FormSubmission,
    Form,
    SegmentChange,
    SegmentRefresh,
    SegmentMember,
    Segment,
    Activity,
    Task,
    HandoffCredit,
    HandoffEvent,
    HandoffRouting,
    ContactScore,
    WebhookDelivery,
    StageChange,
    Touchpoint,
    Handoff,
    Contract,
    DealForecast,
    DealHistory,
    Deal,
    Spend,
    Campaign,
    Contact,
    Account,
)


@dataclass(frozen=True, slots=True)
class Loaded:
    """How many rows of each kind were written."""

    users: int
    accounts: int
    contacts: int
    campaigns: int
    spend: int
    touchpoints: int
    stage_changes: int
    handoffs: int
    deals: int
    contracts: int = 0


def empty_tables() -> None:
    """Delete every onefunnel data row (pipeline stages and users stay).

    Raw DELETEs, not ``Model.delete()``: stage changes refuse deletion one by one because a
    subject's history must never be rewritten, but a reset throws the whole database's data
    away at once, which is a different act, and one a user asks for explicitly.
    """
    tables: tuple[type[models.Model], ...] = (ContactAlias, *DATA_MODELS)
    with transaction.atomic(), connection.cursor() as cursor:
        for model in tables:
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")


def load_company(company: SimulatedCompany, progress: ProgressFn | None = None) -> Loaded:
    """Write the whole company in one transaction; see the module docstring."""
    with transaction.atomic():
        writer = _Writer(company, progress)
        loaded = writer.write()
        price_handoffs(progress)
        write_sales_records(company.seed, datetime.fromtimestamp(ANCHOR_TS, UTC))
    refresh_statistics(ContactAlias, *DATA_MODELS)
    return loaded


def price_handoffs(progress: ProgressFn | None = None) -> None:
    """Price every handoff as the product does when it opens one (``lead_cost``: the spend of
    the lead's campaigns in the 90 days before, by the configured attribution model, or the
    even split), oldest first, so each sees only the handoffs made before it."""
    from onefunnel.services.handoff_values import lead_cost

    rows = list(
        Handoff.objects.order_by("created_at", "pk").values_list("pk", "contact_id", "created_at")
    )
    for done, (pk, contact_id, created_at) in enumerate(rows, start=1):
        cost = lead_cost(contact_id, created_at)
        Handoff.objects.filter(pk=pk).update(cost=cost.amount, cost_method=cost.method)
        if progress is not None and (done % 100 == 0 or done == len(rows)):
            progress("handoff costs", done, len(rows))


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)
    return str(field.column)


def _times(ts: Ints) -> list[str | None]:
    """Epoch seconds as the text the backend stores for an aware UTC datetime (-1 → NULL)."""
    text = np.datetime_as_string(np.maximum(ts, 0).astype("datetime64[s]"), unit="s").tolist()
    # SQLite stores naive UTC text (as Django's adapter does); PostgreSQL takes an offset.
    suffix = "" if connection.vendor == "sqlite" else "+00:00"
    return [
        None if t < 0 else s.replace("T", " ") + suffix
        for t, s in zip(ts.tolist(), text, strict=True)
    ]


def _days(days: Ints) -> list[str | None]:
    text = np.datetime_as_string(np.maximum(days, 0).astype("datetime64[D]"), unit="D").tolist()
    return [None if d < 0 else s for d, s in zip(days.tolist(), text, strict=True)]


def _money(cents: Ints) -> list[str]:
    return [f"{c // 100}.{c % 100:02d}" for c in cents.tolist()]


def _labels(values: Sequence[Any], codes: Ints) -> list[str | None]:
    names = [getattr(v, "value", v) for v in values]
    return [None if c < 0 else names[c] for c in codes.tolist()]


def _ref(ids: Ints, positions: Ints) -> list[int | None]:
    """Database ids for positions (-1 → NULL)."""
    looked_up = np.where(positions >= 0, ids[np.maximum(positions, 0)], -1)
    return [None if i < 0 else i for i in looked_up.tolist()]


def _last_stage(subject: Ints, to_stage: Ints, n: int) -> list[str | None]:
    """Each subject's last stage in the log (None for a subject without history)."""
    rows = np.flatnonzero(subject >= 0)
    last = np.full(n, -1, dtype=np.int64)
    last[subject[rows]] = to_stage[rows]  # later rows overwrite earlier ones: numpy keeps the last
    return _labels(STAGES, last)


class _Writer:
    """Inserts one table after another, sharing the id maps they need."""

    def __init__(self, company: SimulatedCompany, progress: ProgressFn | None) -> None:
        self.c = company
        self.progress = progress
        self.currency = settings.ONEFUNNEL_CURRENCY

    def ids(self, model: type[models.Model], n: int) -> Ints:
        """Fresh primary keys for ``n`` rows of a model, after any existing ones."""
        top = model._default_manager.aggregate(top=models.Max("pk"))["top"] or 0
        return np.arange(top + 1, top + 1 + n, dtype=np.int64)

    def insert(self, model: type[models.Model], values: dict[str, Iterable[Any]], n: int) -> None:
        """Insert ``n`` rows given column by column (field name → values), in batches."""
        meta = model._meta
        quote = connection.ops.quote_name
        fields = list(values)
        columns = ", ".join(quote(_column(model, f)) for f in fields)
        sql = (
            f"INSERT INTO {quote(meta.db_table)} ({columns}) "
            f"VALUES ({', '.join(['%s'] * len(fields))})"
        )
        phase = str(meta.verbose_name_plural)
        iterator = zip(*values.values(), strict=False)
        done = 0
        # PostgreSQL takes rows fastest through COPY (an executemany there is one round trip
        # per row); SQLite's executemany already runs in C. This is the only backend branch.
        copy = connection.vendor == "postgresql"
        with connection.cursor() as cursor:
            while True:
                batch = [row for _, row in zip(range(BATCH), iterator, strict=False)]
                if not batch:
                    break
                if copy:
                    statement = f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN"
                    with cursor.cursor.copy(statement) as stream:
                        for row in batch:
                            stream.write_row(row)
                else:
                    cursor.executemany(sql, batch)
                done += len(batch)
                if self.progress is not None:
                    self.progress(phase, done, n)

    def write(self) -> Loaded:
        c = self.c
        user_ids = self.users()
        pipeline = self.pipeline()
        account_ids = self.ids(Account, len(c.accounts.name))
        contact_ids = self.ids(Contact, len(c.contacts.email))
        campaign_ids = self.ids(Campaign, len(c.campaigns.name))
        deal_ids = self.ids(Deal, len(c.deals.kind))
        handoff_ids = self.ids(Handoff, len(c.handoffs.contact))
        n_touches, n_activity = len(c.touches.contact), len(c.activity.contact)
        all_touch_ids = self.ids(Touchpoint, n_touches + n_activity)
        touch_ids, activity_ids = all_touch_ids[:n_touches], all_touch_ids[n_touches:]
        contract_ids = self.ids(Contract, len(c.contracts.account))
        change_ids = self.ids(StageChange, len(c.stage_changes.at))
        now = _times(np.array([ANCHOR_TS], dtype=np.int64))[0]

        a = c.accounts
        n = len(a.name)
        marker = {"seed": c.seed, "size": c.size.value}
        props = [
            json.dumps({DEMO_MARKER: marker, "employee_band": band}) for band in a.employee_band
        ]
        account_stage = _last_stage(c.stage_changes.account, c.stage_changes.to_stage, n)
        self.insert(
            Account,
            {
                "id": account_ids.tolist(),
                "name": a.name,
                "domain": a.domain,
                "industry": a.industry,
                "employee_count": a.employee_count.tolist(),
                "country": a.country,
                "region": a.region,
                "owner": _ref(user_ids, a.owner),
                "stage": account_stage,
                "properties": props,
                "created_at": _times(a.created_at),
                "updated_at": repeat(now),
            },
            n,
        )

        p = c.campaigns
        n = len(p.name)
        self.insert(
            Campaign,
            {
                "id": campaign_ids.tolist(),
                "name": p.name,
                "utm_campaign": p.utm_campaign,
                "channel": _labels(CHANNELS, p.channel),
                "start_date": _days(p.start_day),
                "end_date": _days(p.end_day),
                "budget": _money(p.budget_cents),
                "currency": repeat(self.currency),
                "planned": repeat(True),
                "created_at": _times((p.start_day - 21) * DAY),
            },
            n,
        )
        s = c.spend
        n = len(s.day)
        self.insert(
            Spend,
            {
                "campaign": _ref(campaign_ids, s.campaign),
                "day": _days(s.day),
                "amount": _money(s.amount_cents),
                "currency": repeat(self.currency),
            },
            n,
        )

        k = c.contacts
        n = len(k.email)
        contact_stage = _last_stage(c.stage_changes.contact, c.stage_changes.to_stage, n)
        self.insert(
            Contact,
            {
                "id": contact_ids.tolist(),
                "email": k.email,
                "first_name": k.first_name,
                "last_name": k.last_name,
                "title": k.title,
                "phone": repeat(""),
                "country": k.country,
                "account": _ref(account_ids, k.account),
                "owner": _ref(user_ids, k.owner),
                "stage": contact_stage,
                "score": repeat(None),
                "properties": [json.dumps({"seniority": s}) for s in k.seniority],
                "created_at": _times(k.created_at),
                "updated_at": repeat(now),
            },
            n,
        )

        d = c.deals
        n = len(d.kind)
        steps = np.asarray(pipeline, dtype=np.int64)
        self.insert(
            Deal,
            {
                "id": deal_ids.tolist(),
                "name": d.name,
                "kind": _labels(DEAL_KINDS, d.kind),
                "account": _ref(account_ids, d.account),
                "contact": _ref(contact_ids, d.contact),
                "owner": _ref(user_ids, d.owner),
                "pipeline_stage": steps[np.minimum(d.pipeline_step, len(steps) - 1)].tolist(),
                "status": _labels(DEAL_STATUSES, d.status),
                "amount": _money(d.amount_cents),
                "currency": repeat(self.currency),
                "probability": repeat(None),
                "expected_close": _days(d.expected_close_day),
                "created_at": _times(d.created_at),
                "closed_at": _times(d.closed_at),
                "lost_reason": _labels(LOST_REASONS, d.lost_reason),
            },
            n,
        )

        self.contracts(contract_ids, account_ids, deal_ids)

        h = c.handoffs
        n = len(h.contact)
        self.insert(
            Handoff,
            {
                "id": handoff_ids.tolist(),
                "contact": _ref(contact_ids, h.contact),
                "account": _ref(account_ids, h.account),
                "trigger": _labels(TRIGGERS, h.trigger),
                "score": h.score.tolist(),
                "score_explanation": repeat("[]"),
                "owner": _ref(user_ids, h.owner),
                "team_queue": repeat(None),
                "created_at": _times(h.created_at),
                "sla_due_at": _times(h.sla_due_at),
                "first_response_at": _times(h.first_response_at),
                "status": _labels(HANDOFF_STATUSES, h.status),
                "decided_at": _times(h.decided_at),
                "reason": _labels(REASONS, h.reason),
                "note": h.note,
                # Priced after loading by the product's own method (price_handoffs).
                "cost": _money(h.cost_cents),
                "cost_method": repeat("even_split"),
                "expected_value": _money(h.expected_value_cents),
                "currency": repeat(self.currency),
                "previous": _ref(handoff_ids, h.previous),
                "deal": _ref(deal_ids, h.deal),
            },
            n,
        )

        self.touchpoints(touch_ids, contact_ids, account_ids, campaign_ids, user_ids)
        self.activity(activity_ids, contact_ids, account_ids, user_ids)
        self.stage_changes(
            change_ids, contact_ids, account_ids, touch_ids, handoff_ids, deal_ids, user_ids,
            contract_ids,
        )  # fmt: skip

        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), list(DATA_MODELS)):
                cursor.execute(sql)
        return Loaded(
            users=len(user_ids),
            accounts=len(account_ids),
            contacts=len(contact_ids),
            campaigns=len(campaign_ids),
            spend=len(c.spend.day),
            touchpoints=len(all_touch_ids),
            stage_changes=len(change_ids),
            handoffs=len(handoff_ids),
            deals=len(deal_ids),
            contracts=len(contract_ids),
        )

    def users(self) -> Ints:
        """The staff as users with unusable passwords, each in their team's group."""
        ensure_team_groups()
        groups = {g.name: g for g in Group.objects.filter(name__in=[t.value for t in TEAMS])}
        user_model = get_user_model()
        u = self.c.users
        ids = []
        for i, username in enumerate(u.username):
            user, created = user_model._default_manager.get_or_create(
                username=username,
                defaults={
                    "first_name": u.first_name[i],
                    "last_name": u.last_name[i],
                    "email": u.email[i],
                },
            )
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            team = TEAMS[int(u.team[i])]
            user.groups.add(groups[team.value])
            if team is Team.SALES:
                # Sales reps receive the handoffs the live system routes after the demo loads.
                RepProfile.objects.get_or_create(user=user, defaults={"team": team.value})
            ids.append(user.pk)
        if self.progress is not None:
            self.progress("users", len(ids), len(ids))
        return np.asarray(ids, dtype=np.int64)

    def pipeline(self) -> list[int]:
        """The default pipeline's open stage ids in sequence order (the product's default
        pipeline, with its won and lost stages, where none is left)."""
        from onefunnel.services.sales.deals import _pipeline

        pipe = _pipeline(None)
        # Open stages only: the won and lost stages are where closing a deal puts it.
        stages = PipelineStage.objects.filter(pipeline=pipe, is_won=False, is_lost=False)
        return list(stages.order_by("sequence", "id").values_list("pk", flat=True))

    def touchpoints(
        self, ids: Ints, contact_ids: Ints, account_ids: Ints, campaign_ids: Ints, user_ids: Ints
    ) -> None:
        c = self.c
        t = c.touches
        n = len(t.contact)
        src = c.sources
        source = t.source
        campaign = np.array([s.campaign for s in src], dtype=np.int64)[source]
        channel = np.array([s.channel.value for s in src], dtype=object)[source].tolist()
        utm = {
            name: np.array([getattr(s, name) for s in src], dtype=object)[source].tolist()
            for name in ("utm_source", "utm_medium", "utm_campaign")
        }
        team = np.array([default_team(k).value for k in TOUCH_KINDS], dtype=object)[t.kind]
        at = _times(t.occurred_at)
        prefix = f"demo-{c.seed}-"
        self.insert(
            Touchpoint,
            {
                "id": ids.tolist(),
                "message_id": [f"{prefix}{i:08d}" for i in range(n)],
                "contact": _ref(contact_ids, t.contact),
                "anonymous_id": repeat(""),
                "account": _ref(account_ids, c.contacts.account[t.contact]),
                "kind": _labels(TOUCH_KINDS, t.kind),
                "team": team.tolist(),
                "channel": channel,
                "campaign": _ref(campaign_ids, campaign),
                "utm_source": utm["utm_source"],
                "utm_medium": utm["utm_medium"],
                "utm_campaign": utm["utm_campaign"],
                "utm_term": repeat(""),
                "utm_content": repeat(""),
                "properties": repeat("{}"),
                "actor": _ref(user_ids, t.actor),
                "occurred_at": at,
                "received_at": at,
            },
            n,
        )

    def contracts(self, ids: Ints, account_ids: Ints, deal_ids: Ints) -> None:
        """The contract terms (renewal date: the day after the end)."""
        from onefunnel.domain.contracts import ContractStatus, PaymentStatus

        k = self.c.contracts
        n = len(k.account)
        ended = np.where(k.status == code(ContractStatus.ENDED), (k.end_day + 1) * DAY, -1)
        self.insert(
            Contract,
            {
                "id": ids.tolist(),
                "account": _ref(account_ids, k.account),
                "product": _labels(PRODUCTS, k.product),
                "amount": _money(k.amount_cents),
                "currency": repeat(self.currency),
                "billing_period": ["monthly" if m else "yearly" for m in k.monthly.tolist()],
                "start_date": _days(k.start_day),
                "end_date": _days(k.end_day),
                "renewal_date": _days(k.end_day + 1),
                "auto_renew": [bool(x) for x in k.auto_renew.tolist()],
                "status": _labels(tuple(ContractStatus), k.status),
                "payment_status": _labels(tuple(PaymentStatus), k.payment),
                "plan_usage": [None if p < 0 else p for p in k.plan_usage.tolist()],
                "source_deal": _ref(deal_ids, k.source_deal),
                "renewal_deal": _ref(deal_ids, k.renewal_deal),
                "previous": _ref(ids, k.previous),
                "created_at": _times(k.start_day * DAY),
                "ended_at": _times(ended),
            },
            n,
        )

    def activity(self, ids: Ints, contact_ids: Ints, account_ids: Ints, user_ids: Ints) -> None:
        """The customers' own touches: usage events (tracked, named in ``properties.event``),
        support tickets, meetings with their account manager, product page visits."""
        c = self.c
        t = c.activity
        n = len(t.contact)
        properties = [
            json.dumps({"event": USAGE_EVENTS[e]})
            if e >= 0
            else (json.dumps({"product": PRODUCTS[p]}) if p >= 0 else "{}")
            for e, p in zip(t.event.tolist(), t.product.tolist(), strict=True)
        ]
        at = _times(t.occurred_at)
        prefix = f"demo-{c.seed}-a"
        self.insert(
            Touchpoint,
            {
                "id": ids.tolist(),
                "message_id": [f"{prefix}{i:08d}" for i in range(n)],
                "contact": _ref(contact_ids, t.contact),
                "anonymous_id": repeat(""),
                "account": _ref(account_ids, c.contacts.account[t.contact]),
                "kind": _labels(TOUCH_KINDS, t.kind),
                "team": _labels(TEAMS, t.team),
                "channel": repeat("direct"),
                "campaign": repeat(None),
                "utm_source": repeat(""),
                "utm_medium": repeat(""),
                "utm_campaign": repeat(""),
                "utm_term": repeat(""),
                "utm_content": repeat(""),
                "properties": properties,
                "actor": _ref(user_ids, t.actor),
                "occurred_at": at,
                "received_at": at,
            },
            n,
        )

    def stage_changes(
        self,
        ids: Ints,
        contact_ids: Ints,
        account_ids: Ints,
        touch_ids: Ints,
        handoff_ids: Ints,
        deal_ids: Ints,
        user_ids: Ints,
        contract_ids: Ints,
    ) -> None:
        s = self.c.stage_changes
        n = len(s.at)
        ref = s.cause_ref
        cause_id = np.full(n, -1, dtype=np.int64)
        actor = np.full(n, -1, dtype=np.int64)
        for causes, table, owner in (
            ((Cause.TOUCH, Cause.RULE), touch_ids, None),
            ((Cause.HANDOFF,), handoff_ids, self.c.handoffs.owner),
            ((Cause.DEAL,), deal_ids, self.c.deals.owner),
        ):
            mask = np.isin(s.cause, [code(x) for x in causes]) & (ref >= 0)
            cause_id[mask] = table[ref[mask]]
            if owner is not None:
                actor[mask] = owner[ref[mask]]
        at = _times(s.at)
        self.insert(
            StageChange,
            {
                "id": ids.tolist(),
                "contact": _ref(contact_ids, s.contact),
                "account": _ref(account_ids, s.account),
                "from_stage": _labels(STAGES, s.from_stage),
                "to_stage": _labels(STAGES, s.to_stage),
                "at": at,
                "recorded_at": at,
                "cause": _labels(CAUSES, s.cause),
                "cause_id": [
                    f"contract:{contract_ids[-2 - r]}" if r <= -2 else ("" if i < 0 else str(i))
                    for i, r in zip(cause_id.tolist(), ref.tolist(), strict=True)
                ],
                "reason": _labels(REASONS, s.reason),
                "note": repeat(""),
                "actor": _ref(user_ids, actor),
            },
            n,
        )
