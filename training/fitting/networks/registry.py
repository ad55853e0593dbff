"""The reference networks the training report measures the fused model against.

Published purchase-intent models, each in its own module, all trained by
:func:`training.fitting.networks.loop.fit_network` on the same rows, seeds and early
stopping, and ending in the same head:

* ``mlp``: [U, I] (``mlp.py``)
* ``cnn_sequence``: the last actions (1-D convolutions) + [U, I] (``cnn_sequence.py``)
* ``lstm``: the last actions (LSTM) + [U, I] (``lstm.py``)
* ``lstm_attention``: the last actions (LSTM + attention) + [U, I] (``lstm_attention.py``)
* ``lstm_attention_gat``: the above + the user-item graph (graph attention)
  (``graph_attention.py``)

None of them is served. ``serving`` says what serving each would take, and the
report's verdict quotes it when one beats the fused model outside the noise.

>>> list(NETWORKS)
['mlp', 'cnn_sequence', 'lstm', 'lstm_attention', 'lstm_attention_gat']
>>> sorted(input_keys(["mlp", "lstm"]))
['seq', 'static']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from training.fitting.networks.cnn_sequence import SequenceCNN
from training.fitting.networks.graph_attention import AttentionLSTMGraph
from training.fitting.networks.head import ReferenceNetwork
from training.fitting.networks.inputs import NetworkDims
from training.fitting.networks.lstm import SequenceLSTM
from training.fitting.networks.lstm_attention import AttentionLSTM
from training.fitting.networks.mlp import PropensityMLP

__all__ = ["NetworkSpec", "NETWORKS", "input_keys"]


@dataclass(frozen=True)
class NetworkSpec:
    cls: type[ReferenceNetwork]
    make: Callable[[NetworkDims], ReferenceNetwork]
    serving: str  # what serving it would take, beyond what the fused model needs

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.cls.inputs


_SEQUENCE = (
    "the worker's user state would have to keep the user's last 20 actions in order (time, type, item, "
    "category; it keeps per-item counts and last touches, not the sequence): a new state field and a "
    "state upgrade, the sequence built at scoring time by the code training uses "
    "(training/examples.py), and the network and its scaling in the artifact"
)
NETWORKS: dict[str, NetworkSpec] = {
    "mlp": NetworkSpec(
        PropensityMLP,
        lambda d: PropensityMLP(d.static),
        "its weights and scaling in the artifact and a scorer branch; it reads the U and I the "
        "worker already computes, so no state change",
    ),
    "cnn_sequence": NetworkSpec(SequenceCNN, lambda d: SequenceCNN(d.seq, d.static), _SEQUENCE),
    "lstm": NetworkSpec(SequenceLSTM, lambda d: SequenceLSTM(d.seq, d.static), _SEQUENCE),
    "lstm_attention": NetworkSpec(AttentionLSTM, lambda d: AttentionLSTM(d.seq, d.static), _SEQUENCE),
    "lstm_attention_gat": NetworkSpec(
        AttentionLSTMGraph,
        lambda d: AttentionLSTMGraph(d.seq, d.static, d.users, d.items),
        _SEQUENCE + "; and the graph: the trained embedding of every training user and item in the artifact, "
        "each user's 16 most recent items (in the same new state field) and each item's 8 most recent users "
        "(a new field of the global items table), with everything first seen after training scored as "
        "unknown, as it was trained; retraining to refresh the embeddings",
    ),
}


def input_keys(names: Iterable[str]) -> set[str]:
    """Every input the named networks read (what a part is built with for all of them)."""
    return {k for n in names for k in NETWORKS[n].inputs}
