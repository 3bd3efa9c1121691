"""The byte-level JSON depth that lets parsing skip walking shallow messages."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from onefunnel.domain.tracking import MAX_DEPTH, EventError, check_depth, json_depth

_text = st.text(alphabet=st.sampled_from('ab[]{}"\\:, \n\u00e9'), max_size=8)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=30,
)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@given(_json)
def test_the_depth_of_the_bytes_is_the_depth_of_the_value(value: Any) -> None:
    assert json_depth(orjson.dumps(value)) == _depth(value)
    assert json_depth(orjson.dumps(value, option=orjson.OPT_INDENT_2)) == _depth(value)


def _nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {}
    for _ in range(depth - 1):
        node = {"x": node}
    return node


def test_a_body_within_the_limit_holds_no_message_check_depth_refuses() -> None:
    deepest = _nested(MAX_DEPTH - 2)
    body = orjson.dumps({"batch": [deepest]})
    assert json_depth(body) == MAX_DEPTH
    check_depth(deepest, "batch[0]")  # passes: the fast path may skip it
    too_deep = _nested(MAX_DEPTH + 2)
    assert json_depth(orjson.dumps({"batch": [too_deep]})) > MAX_DEPTH
    try:
        check_depth(too_deep, "batch[0]")
    except EventError:
        pass
    else:
        raise AssertionError("check_depth accepted a message deeper than the limit")
