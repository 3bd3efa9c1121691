"""Grouped journeys: the one input shape every attribution model reads.

A *journey* is the ordered list of channels (or campaigns: any touch label) a contact or an
account touched before it converted, or before it stopped without converting. Analysts usually
hold journeys *grouped*: each distinct path once, with how many journeys followed it and
converted (`conversions`), the value of those conversions (`values`), and how many followed it
and did not convert (`nulls`).

For a million paths, a Python object per touch would cost gigabytes, so the paths are stored the
way sparse matrices store rows (CSR): every touch's channel id in one flat array, and `offsets`
where each path starts and ends. Path `p` is `touch_channels[offsets[p]:offsets[p + 1]]`. The
models are then vectorised numpy over the flat arrays (bincount, reduceat), never a loop per path.

`touch_ages_days`, when known (journeys built from timestamped touches), is each touch's age at
the end of its path: the time from the touch to the conversion, or to the journey's last touch
when it did not convert. Time decay uses it; without it time decay counts touches instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


class AttributionInputError(ValueError):
    """Journeys that no attribution model can use; the message names the path or field."""


@dataclass(frozen=True, eq=False)
class GroupedJourneys:
    """Distinct paths with their conversion, value and null counts, in flat (CSR) arrays.

    Build it with `from_paths` for small data, or directly from arrays (a file reader does).
    Construction validates everything, so models can trust the arrays.
    """

    channels: tuple[str, ...]
    touch_channels: IntArray
    offsets: IntArray
    conversions: FloatArray
    nulls: FloatArray
    values: FloatArray | None = None
    touch_ages_days: FloatArray | None = None

    def __post_init__(self) -> None:
        n_paths = len(self.offsets) - 1
        if n_paths < 0 or self.offsets[0] != 0 or self.offsets[-1] != len(self.touch_channels):
            raise AttributionInputError("offsets must start at 0 and end at the number of touches")
        if len(set(self.channels)) != len(self.channels):
            raise AttributionInputError("channel names must be distinct")
        if any(not name for name in self.channels):
            raise AttributionInputError("channel names must not be empty")
        lengths = np.diff(self.offsets)
        _first_offending(lengths <= 0, "path", "is empty: a journey needs at least one touch")
        if len(self.touch_channels) and (
            self.touch_channels.min() < 0 or self.touch_channels.max() >= len(self.channels)
        ):
            raise AttributionInputError("a touch refers to a channel id outside `channels`")
        per_path: dict[str, FloatArray | None] = {
            "conversions": self.conversions,
            "nulls": self.nulls,
            "values": self.values,
        }
        for field, counts in per_path.items():
            if counts is None:
                continue
            if len(counts) != n_paths:
                raise AttributionInputError(
                    f"{field} has {len(counts)} entries for {n_paths} paths"
                )
            _first_offending(~np.isfinite(counts), "path", f"has a non-finite {field}")
            _first_offending(counts < 0, "path", f"has negative {field}")
        if self.touch_ages_days is not None:
            if len(self.touch_ages_days) != len(self.touch_channels):
                raise AttributionInputError("touch_ages_days needs one age per touch")
            bad = ~np.isfinite(self.touch_ages_days) | (self.touch_ages_days < 0)
            _first_offending(bad, "touch", "has a negative or non-finite age")

    @classmethod
    def from_paths(
        cls,
        paths: Sequence[Sequence[str]],
        conversions: Sequence[float],
        nulls: Sequence[float] | None = None,
        values: Sequence[float] | None = None,
        touch_ages_days: Sequence[Sequence[float]] | None = None,
    ) -> GroupedJourneys:
        """Build grouped journeys from channel-name paths (for small data and tests).

        Channel ids follow first appearance, so the result does not depend on a sort order.
        """
        index: dict[str, int] = {}
        flat = [index.setdefault(channel, len(index)) for path in paths for channel in path]
        offsets = np.zeros(len(paths) + 1, dtype=np.int64)
        np.cumsum([len(path) for path in paths], out=offsets[1:])
        ages = None
        if touch_ages_days is not None:
            ages = np.array([a for path in touch_ages_days for a in path], dtype=np.float64)
        return cls(
            channels=tuple(index),
            touch_channels=np.array(flat, dtype=np.int64),
            offsets=offsets,
            conversions=np.asarray(conversions, dtype=np.float64),
            nulls=(np.zeros(len(paths)) if nulls is None else np.asarray(nulls, dtype=np.float64)),
            values=None if values is None else np.asarray(values, dtype=np.float64),
            touch_ages_days=ages,
        )

    @property
    def n_paths(self) -> int:
        """How many (grouped) paths there are."""
        return len(self.offsets) - 1

    @cached_property
    def lengths(self) -> IntArray:
        """Touches per path."""
        return np.diff(self.offsets)

    @cached_property
    def path_of_touch(self) -> IntArray:
        """For each touch, the index of its path."""
        return np.repeat(np.arange(self.n_paths, dtype=np.int64), self.lengths)

    @cached_property
    def position(self) -> IntArray:
        """For each touch, its 0-based position within its path."""
        return np.arange(len(self.touch_channels), dtype=np.int64) - np.repeat(
            self.offsets[:-1], self.lengths
        )

    @property
    def total_conversions(self) -> float:
        """All conversions: what every model's conversion credits add up to."""
        return float(self.conversions.sum())

    @property
    def total_value(self) -> float | None:
        """All conversion value, or None when the journeys carry no value."""
        return None if self.values is None else float(self.values.sum())

    def path(self, index: int) -> tuple[str, ...]:
        """The channel names of one path (for messages and tests)."""
        ids = self.touch_channels[self.offsets[index] : self.offsets[index + 1]]
        return tuple(self.channels[i] for i in ids)


def _first_offending(bad: NDArray[np.bool_], what: str, problem: str) -> None:
    hits = np.flatnonzero(bad)
    if len(hits):
        raise AttributionInputError(f"{what} {int(hits[0]) + 1} {problem}")


def weighted_count(ids: IntArray, weights: FloatArray, size: int) -> FloatArray:
    """Sum `weights` by integer id (np.bincount with weights, typed as floats)."""
    return np.bincount(ids, weights=weights, minlength=size).astype(np.float64, copy=False)
