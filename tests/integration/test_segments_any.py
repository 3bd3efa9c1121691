"""``any`` conditions (OR) on the database: the members of ``any(A, B)`` are the members of A and
of B together (a property over generated conditions on a mixed data set), in one query, beside
the AND conditions, for contacts and accounts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from onefunnel.domain.segments import parse_spec
from onefunnel.domain.touches import TouchKind
from onefunnel.models import Account, Contact
from onefunnel.services.access import SYSTEM
from onefunnel.services.accounts.contracts import add_contract
from onefunnel.services.marketing import segments as seg
from onefunnel.services.touches import TouchInput, record_touch
from tests.conftest import T0

pytestmark = pytest.mark.django_db
MakeContact = Callable[..., Contact]
NOW = T0 + timedelta(days=100)
STAGES = ("awareness", "consideration", "intent", "nurture")
PRICING = {"page": {"url": "https://x.example/pricing", "path": "/pricing"}}


def _touch(contact: Contact, n: int, days: int) -> None:
    record_touch(
        TouchInput(
            message_id=f"any-{contact.pk}-{n}",
            kind=TouchKind.PAGE_VIEW,
            occurred_at=NOW - timedelta(days=days),
            contact_id=contact.pk,
            properties=dict(PRICING),
        )
    )


def _members(spec: dict[str, Any]) -> set[int]:
    return set(seg.spec_query(parse_spec(spec), now=NOW).values_list("pk", flat=True))


def _data_set(make_contact: MakeContact) -> list[Contact]:
    """Twelve contacts mixing stages, scores (some none; a visit rescores), titles and pricing
    visits."""
    made: list[Contact] = []
    if Contact.objects.exists():  # hypothesis reuses the test's database between examples
        return list(Contact.objects.order_by("pk"))
    for i in range(12):
        contact = make_contact(
            stage=STAGES[i % 4],
            score=None if i % 5 == 0 else float(10 * i),
            title="CTO" if i % 3 == 0 else "Engineer",
        )
        for n in range(i % 3):
            _touch(contact, n, days=2 + 9 * n)  # 0, 1 or 2 visits: 2 and 11 days ago
        made.append(contact)
    return made


CONDITIONS = st.one_of(
    st.lists(st.sampled_from(STAGES), min_size=1, max_size=3).map(
        lambda s: {"type": "stage", "in": sorted(set(s))}
    ),
    st.integers(0, 120).map(lambda n: {"type": "score", "min": n}),
    st.integers(0, 120).map(lambda n: {"type": "score", "max": n}),
    st.sampled_from(["cto", "eng", "x"]).map(
        lambda t: {"type": "attribute", "name": "title", "contains": t}
    ),
    st.tuples(st.integers(1, 3), st.integers(1, 20)).map(
        lambda p: {
            "type": "touches",
            "url_contains": "/pricing",
            "at_least": p[0],
            "within_days": p[1],
        }
    ),
)


@hsettings(max_examples=40, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(st.lists(CONDITIONS, min_size=2, max_size=3), st.sampled_from(STAGES))
def test_any_is_the_union_of_its_conditions(
    make_contact: MakeContact, of: list[dict[str, Any]], also: str
) -> None:
    _data_set(make_contact)
    union = set().union(*(_members({"all": [c]}) for c in of))
    assert _members({"all": [{"type": "any", "of": of}]}) == union
    # Beside an AND condition: the intersection with that condition's members.
    stage = {"type": "stage", "in": [also]}
    both = _members({"all": [stage, {"type": "any", "of": of}]})
    assert both == union & _members({"all": [stage]})


def test_a_deterministic_table_of_cases(make_contact: MakeContact) -> None:
    _data_set(make_contact)
    c = list(Contact.objects.order_by("pk"))  # as stored: touches rescore their contact
    intent_or_hot = {"type": "any", "of": [{"type": "stage", "in": ["intent"]},
                                           {"type": "score", "min": 50}]}  # fmt: skip
    hot = {x.pk for x in c if x.score is not None and x.score >= 50}
    assert hot - {c[2].pk, c[6].pk, c[10].pk}  # the OR adds someone not in intent
    assert _members({"all": [intent_or_hot]}) == {c[2].pk, c[6].pk, c[10].pk} | hot
    twice_or_cto = {"type": "any", "of": [
        {"type": "touches", "url_contains": "/pricing", "at_least": 2, "within_days": 14},
        {"type": "attribute", "name": "title", "equals": "cto"}]}  # fmt: skip
    # twice: i % 3 == 2 → 2, 5, 8, 11; CTO: i % 3 == 0 → 0, 3, 6, 9
    assert _members({"all": [twice_or_cto]}) == {c[i].pk for i in (0, 2, 3, 5, 6, 8, 9, 11)}
    assert _members({"all": [twice_or_cto, {"type": "stage", "in": ["awareness"]}]}) == {
        c[i].pk for i in (0, 8)
    }


def test_an_any_is_one_query_and_saves_through_the_service(make_contact: MakeContact) -> None:
    _data_set(make_contact)
    c = list(Contact.objects.order_by("pk"))
    spec = {"all": [{"type": "stage", "in": ["consideration", "intent"]},
                    {"type": "any", "of": [
                        {"type": "touches", "url_contains": "/pricing", "within_days": 14},
                        {"type": "score", "min": 90}]}]}  # fmt: skip
    view = seg.create_segment(SYSTEM, "warm or visiting", spec)
    with CaptureQueriesContext(connection) as queries:
        counted = seg.count_segment(view.id, now=NOW).size
    assert len(queries) == 2  # the segment's row, then one COUNT
    expected = {
        x.pk
        for i, x in enumerate(c)
        if x.stage in ("consideration", "intent") and (i % 3 >= 1 or (x.score or 0) >= 90)
    }
    assert counted == len(expected)
    assert _members(spec) == expected
    with pytest.raises(seg.SpecInputError) as caught:
        seg.update_segment(SYSTEM, view.id, spec={"all": [{"type": "any", "of": [
            {"type": "stage", "in": ["intent"]}, {"type": "score", "min": "high"}]}]})  # fmt: skip
    assert caught.value.errors[0][0] == "spec.all[0].of[1].min"
    assert seg.get_segment(view.id).spec["all"][1]["type"] == "any"  # nothing half-applied


def test_an_any_over_accounts(make_contact: MakeContact) -> None:
    soft = Account.objects.create(name="Soft", domain="soft.example", industry="Software",
                                  created_at=T0)  # fmt: skip
    renewing = Account.objects.create(name="Renewing", domain="r.example", created_at=T0)
    Account.objects.create(name="Neither", domain="n.example", created_at=T0)
    make_contact(account=renewing)
    add_contract(SYSTEM, account_id=renewing.pk, product="Core", amount="100",
                 start=NOW.date() - timedelta(days=330), end=NOW.date() + timedelta(days=35),
                 renewal_date=NOW.date() + timedelta(days=30), now=NOW)  # fmt: skip
    spec = {"subject": "account", "all": [{"type": "any", "of": [
        {"type": "attribute", "name": "industry", "equals": "software"},
        {"type": "contract", "renewal_within_days": 60}]}]}  # fmt: skip
    assert _members(spec) == {soft.pk, renewing.pk}
