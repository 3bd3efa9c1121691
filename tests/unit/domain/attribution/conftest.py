"""Shared hypothesis strategies for attribution tests: random grouped journeys."""

from __future__ import annotations

from hypothesis import strategies as st

from onefunnel.domain.attribution import GroupedJourneys

CHANNELS = ("search", "social", "email", "display", "direct", "video")


@st.composite
def grouped_journeys(
    draw: st.DrawFn, *, max_paths: int = 12, max_length: int = 6, with_value: bool = True
) -> GroupedJourneys:
    """Random journeys over a few channels, at least one of which converts."""
    n_paths = draw(st.integers(1, max_paths))
    paths = [
        draw(st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=max_length))
        for _ in range(n_paths)
    ]
    conversions = [draw(st.integers(0, 9)) for _ in paths]
    conversions[0] = max(conversions[0], 1)
    nulls = [draw(st.integers(0, 9)) for _ in paths]
    values = [c * draw(st.floats(0.5, 500.0)) for c in conversions] if with_value else None
    return GroupedJourneys.from_paths(paths, conversions, nulls=nulls, values=values)
