"""Provenance per profile field: tracking only fills, and each value says where it came from."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from onefunnel.domain.provenance import (
    API,
    IMPORT,
    PROVENANCE,
    TRACKING,
    UNRECORDED,
    USER,
    FieldOrigin,
    field_origins,
    fillable,
    import_stamps,
    stamped,
    tracking_may_set,
)

AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
text = st.text(min_size=1, max_size=20)


@given(value=text, other=text, source=st.sampled_from([API, IMPORT, USER]))
def test_tracking_never_overwrites_a_value_set_by_anyone_else(
    value: str, other: str, source: str
) -> None:
    stamps = {"title": {"source": source, "value": value}}
    assert not tracking_may_set({PROVENANCE: stamps}, "title", value)
    # nor a value with no stamp, nor one changed since tracking wrote another
    assert not tracking_may_set({}, "title", value)
    changed = {PROVENANCE: {"title": {"source": TRACKING, "value": value + "x"}}}
    assert not tracking_may_set(changed, "title", value)
    assert fillable({PROVENANCE: stamps}, {"title": value}, {"title": other}) == {}


def test_tracking_fills_empty_fields_and_refines_its_own() -> None:
    own = stamped({}, {"title": "CTO"}, TRACKING, AT)
    assert tracking_may_set({}, "title", "")
    assert tracking_may_set({}, "title", None)
    assert tracking_may_set(own, "title", "CTO")
    assert fillable(
        own, {"title": "CTO", "first_name": "Ada"}, {"title": "CEO", "first_name": "X"}
    ) == {"title": "CEO"}


def test_import_stamps_are_the_same_for_the_same_row_and_skip_empty_cells() -> None:
    row = {"first_name": "Grace", "last_name": "", "title": "Admiral", "stage": "intent"}
    assert (
        import_stamps(row)
        == import_stamps(dict(row))
        == {
            "first_name": {"source": IMPORT, "value": "Grace"},
            "title": {"source": IMPORT, "value": "Admiral"},
        }
    )
    assert not tracking_may_set({PROVENANCE: import_stamps(row)}, "first_name", "Grace")


def test_each_value_says_where_it_came_from() -> None:
    properties = stamped({}, {"first_name": "Ada", "title": "CTO"}, API, AT)
    properties[PROVENANCE]["last_name"] = {"source": IMPORT, "value": "Lovelace"}
    current = {"first_name": "Ada", "last_name": "Lovelace", "title": "Chair", "phone": ""}
    assert field_origins(properties, current) == (
        FieldOrigin("first_name", "Ada", API, AT.isoformat()),
        FieldOrigin("last_name", "Lovelace", IMPORT),
        # changed since the API set "CTO", by a path that keeps no stamp
        FieldOrigin("title", "Chair", UNRECORDED),
    )
