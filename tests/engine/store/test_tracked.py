"""The change-tracking maps: a status map's running counts are those of its values after
any sequence of changes, and every key set is marked changed, in order."""

from __future__ import annotations

import collections

from hypothesis import given
from hypothesis import strategies as st

from engine.store.tracked import StatusDict, TrackedDict

STATUSES = ["running", "succeeded", "failed", "skipped", "retrying", "paused", "cancelled", "pinned", "odd"]


@given(
    st.dictionaries(st.sampled_from("abcde"), st.sampled_from(STATUSES)),
    st.lists(st.tuples(st.sampled_from("abcdefg"), st.sampled_from(STATUSES))),
)
def test_counts_are_those_of_the_values_after_any_changes(start: dict[str, str], changes: list[tuple[str, str]]) -> None:
    statuses = StatusDict(start)
    for key, value in changes:
        statuses[key] = value
    held = collections.Counter(statuses.values())
    for status in ("succeeded", "failed", "skipped", *STATUSES):
        assert statuses.counts[status] == held[status], status
    assert list(statuses.take()) == list(dict.fromkeys(k for k, _ in changes))
    assert statuses.take() == {}


@given(st.lists(st.tuples(st.integers(0, 5), st.integers())))
def test_a_tracked_dict_marks_each_key_set_in_order(changes: list[tuple[int, int]]) -> None:
    tracked = TrackedDict({9: 1})
    for key, value in changes:
        tracked[key] = value
    assert list(tracked.dirty) == list(dict.fromkeys(k for k, _ in changes))
    assert dict(tracked) == {9: 1, **dict(changes)}
