"""``intent bench``: what the worker does per second and per event, against references.

* :mod:`~stream.bench.throughput`: the I/O limit, the Faust floor, the naive agent, the
  worker's sustained rate and latency, memory; the targets; :func:`run_bench`.
* :mod:`~stream.bench.model_cost`: microseconds per scored pair on real pairs.
* :mod:`~stream.bench.soak`: real then generated traffic at full speed for minutes.
* :mod:`~stream.bench.harness`: what the stages share (topics, worker process, broker).
* :mod:`~stream.bench.failover`: a worker killed and restarted, timed to ready.
* :mod:`~stream.bench.naive_agent` and :mod:`~stream.bench.passthrough_agent`: the two
  reference Faust agents the worker is compared with.
* :mod:`~stream.bench.generator`: generated clickstream for load (never for accuracy).
* :mod:`~stream.bench.train_scale`: ``intent train --serve`` timed per stage on a
  generated archive of Taobao's shape (``--train-scale EVENTS``).

Names are imported on first use.
"""

from stream.lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "BenchConfig": "throughput",
        "TARGETS": "throughput",
        "run_bench": "throughput",
        "render_table": "throughput",
        "model_cost": "model_cost",
        "served_pairs": "model_cost",
        "run_failover": "failover",
        "run_soak": "soak",
        "ClickstreamGenerator": "generator",
        "run_train_scale": "train_scale",
    },
)
