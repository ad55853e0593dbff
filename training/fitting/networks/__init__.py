"""The reference networks: published purchase-intent models the fused model is measured against.

One module per network (``mlp``, ``cnn_sequence``, ``lstm``, ``lstm_attention``,
``graph_attention``), each ending in the shared head (``head``), fed by ``inputs``
(and ``interaction_graph`` for the graph model), trained by one loop (``loop``) and run
on the pipeline's parts by ``fit``. ``registry`` lists them: adding a network is a
module here and an entry in :data:`~training.fitting.networks.registry.NETWORKS`.
"""

from training.fitting.networks.registry import NETWORKS, NetworkSpec, input_keys

__all__ = ["NETWORKS", "NetworkSpec", "input_keys"]
