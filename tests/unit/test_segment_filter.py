"""The segment filter's pieces, without a database: which ids count at each level, the one line
that says which segment and when, and the hashable value a report cache can key on."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from onefunnel.analytics.engines import compile_sql
from onefunnel.analytics.segment_filter import (
    REFUSED,
    SegmentFilter,
    accounts_in,
    contacts_in,
    segment_params,
)

AT = datetime(2026, 3, 2, 10, 30, tzinfo=timezone(timedelta(hours=2)))


def _filter(subject: str, members: int = 3) -> SegmentFilter:
    return SegmentFilter(7, "Warm leads", subject, AT, members)


def test_each_level_reads_the_stored_membership_by_a_bound_id() -> None:
    contact, account = _filter("contact"), _filter("account")
    # A contact segment's contacts are its members; an account segment's are its accounts'.
    assert "onefunnel_contact" not in contact.contact_ids_sql()
    assert "sgm.member_id = sgc.account_id" in account.contact_ids_sql()
    assert "onefunnel_contact" not in account.account_ids_sql()
    assert "sgm.member_id = sgc.id" in contact.account_ids_sql()
    for sql in (contact.contact_ids_sql(), account.account_ids_sql()):
        assert ":segment_id" in sql
        assert "7" not in sql  # the id is bound, never written into the text
        for dialect in ("sqlite", "postgres", "spark"):
            compile_sql(sql, dialect)
    assert segment_params(contact) == {"segment_id": 7}
    assert segment_params(None) == {}
    assert contacts_in(None, "h.contact_id") == ""
    assert accounts_in(None, "j.account_id") == ""
    assert contacts_in(contact, "h.contact_id").startswith(" AND h.contact_id IN (SELECT")


def test_the_line_names_the_segment_and_the_refresh_in_utc() -> None:
    assert _filter("contact").describe() == (
        "segment 'Warm leads': 3 contacts as of its last refresh, 2026-03-02 08:30 UTC"
    )
    assert "1 account as of" in _filter("account", 1).describe()


def test_a_cache_keyed_by_the_filter_sees_a_refresh_as_another_key() -> None:
    before, after = _filter("contact"), SegmentFilter(7, "Warm leads", "contact",
                                                      AT + timedelta(hours=1), 3)  # fmt: skip
    assert hash(before) == hash(_filter("contact"))
    assert before != after
    assert set(REFUSED) == {"spend", "plan"}
    assert REFUSED["spend"].startswith("the spend report counts money, not contacts")
