"""Hypothesis strategies the format tests share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st


def json_values(keys: Sequence[str], *, max_keys: int = 5) -> st.SearchStrategy[Any]:
    """Return any JSON value, its objects keyed by `keys` (the names a parser looks for)."""
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(st.sampled_from(list(keys)), inner, max_size=max_keys)
        ),
        max_leaves=30,
    )
