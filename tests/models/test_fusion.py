"""group_tensors: a batch's pairs, grouped by user, padded into the ResNet's catalogue."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from models.fusion import group_tensors


@settings(max_examples=80, deadline=None)
@given(sizes=st.lists(st.integers(0, 20), max_size=10), n_items=st.integers(1, 16))
def test_every_row_lands_in_its_users_slot(sizes: list[int], n_items: int) -> None:
    n = sum(sizes)
    rng = np.random.default_rng(len(sizes) * 31 + n_items)
    U = rng.random((n, 3), dtype=np.float32)
    I = rng.random((n, 2), dtype=np.float32)
    users, items, mask, flat, rows = group_tensors(U, I, sizes, n_items)
    assert users.shape == (len(sizes), 3) and items.shape == (len(sizes), n_items, 2)
    first = 0
    expected_rows, expected_flat = [], []
    for g, size in enumerate(sizes):
        placed = min(size, n_items)  # rows past the catalogue width are not placed
        if size:
            assert np.array_equal(users[g].numpy(), U[first])
        else:
            assert not users[g].any()
        assert mask[g].tolist() == [True] * placed + [False] * (n_items - placed)
        assert np.array_equal(items[g, :placed].numpy(), I[first : first + placed])
        assert not items[g, placed:].any()
        expected_rows += range(first, first + placed)
        expected_flat += range(g * n_items, g * n_items + placed)
        first += size
    assert rows.tolist() == expected_rows and flat.tolist() == expected_flat
