"""``lstm`` (training/lstm_sequence.py): shapes, seeding, and a fit on a tiny synthetic set."""

from __future__ import annotations

import pytest

from tests.training.network_checks import check_fits, check_reproducible, check_shapes, network_data
from training.lstm_sequence import SequenceLSTM
from training.networks import NETWORKS

NAME = "lstm"


@pytest.fixture(scope="module")
def data(synthetic_parts, synthetic_graph):
    return network_data(synthetic_parts, synthetic_graph)


def test_it_is_the_registered_network() -> None:
    assert NETWORKS[NAME].cls is SequenceLSTM


def test_one_logit_per_row(data) -> None:
    check_shapes(NAME, data)


def test_the_seed_decides_the_network(data, synthetic_parts) -> None:
    check_reproducible(NAME, data, synthetic_parts)


def test_it_learns_a_synthetic_signal(data, synthetic_parts) -> None:
    check_fits(NAME, data, synthetic_parts)
