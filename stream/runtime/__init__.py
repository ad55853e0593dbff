"""The Faust runtime: the worker app, its tables, intake and publisher, the scoring
process and model reloads, group membership, lifecycle logs. Everything that touches
Faust's internals lives here and nowhere else, and it was written for faust-streaming
0.15.3 (:mod:`stream.runtime.faust_version` refuses another). Why each intervention
exists:

* :mod:`~stream.runtime.faust_patches`: six patches, each with the Faust method it
  replaces and why (a worker that crashed on a broker outage, recovery that stalled on
  an empty changelog, per-record work in ``getmany`` done per partition, ...).
* :mod:`~stream.runtime.intake`: messages taken from the consumer in batches that fill
  when there is a backlog, without Faust's per-message coroutines.
* :mod:`~stream.runtime.tables`: table writes batched once per event batch; the
  acknowledgement of a batch's offsets only after its changelog and intents are sent.
* :mod:`~stream.runtime.membership`: the group member a killed predecessor left behind
  is removed at start, so a restart does not wait out its session.
* :mod:`~stream.runtime.worker`: the worker (:class:`~stream.runtime.worker.Worker`): its
  events loop, model load and reload, readiness and rebalance handling, as one object.
* :mod:`~stream.runtime.app`: builds the Faust app, its topics and tables, and registers
  the worker on it.

Names are imported on first use: importing this package does not load Faust.
"""
from stream.lazy import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "create_app": "app",
    "create_worker": "app",
    "Worker": "worker",
    "faust_worker": "app",
    "run_reference_agent": "app",
    "apply_faust_patches": "faust_patches",
    "PATCHED_FAUST": "faust_version",
    "FaustVersionError": "faust_version",
    "check_faust_version": "faust_version",
    "Lifecycle": "lifecycle",
    "ModelReloader": "model_reloader",
    "ScoringProcess": "scoring_process",
    "ScoringProcessError": "scoring_process",
    "serving_model": "serving",
    "StrKeyed": "tables",
})
