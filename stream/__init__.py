"""intent's streaming side, by concern (each subpackage's docstring says more):

* :mod:`stream.domain`: the shared bottom layer (events, readers, state, features and
  their layout, catalogue, labels); training and the models import it too.
* :mod:`stream.processing`: the pure steps of a batch (validate, update, score, gate,
  publish decisions), with no Faust and no Kafka in them.
* :mod:`stream.monitoring`: quality, drift, live accuracy and the Prometheus metrics.
* :mod:`stream.runtime`: the Faust worker and everything that touches Faust internals.
* :mod:`stream.io`: Kafka clients, the embedded broker, replay, state dumps, contracts.
* :mod:`stream.commands`: the ``intent`` command line and its commands.
* :mod:`stream.bench`: ``intent bench`` and its reference agents.

:mod:`stream.config` holds the settings and topic names everything reads.
"""
