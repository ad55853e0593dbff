"""The Faust runtime: the worker app, its tables, intake and publisher, the scoring
process and model reloads, group membership, lifecycle logs. Everything that touches
Faust's internals lives here and nowhere else; it was written for faust-streaming
0.15.3, and :mod:`~stream.runtime.faust_version` refuses another. Each intervention,
and why (the module docstrings say more, with what was measured):

* :mod:`~stream.runtime.faust_patches`, seven patches of Faust methods, applied once:
  the fetch wait (Faust hard-codes 1.5 s, which the embedded broker holds in full);
  delivery without four tasks a message; recovery that waits for a changelog's true
  end (the embedded broker reports one batch short: a restarted worker lost events);
  seeking partitions with no committed offset after a rebalance (they were skipped);
  gaps merged without duplicate offsets (commits crawled); the fetch loop's per-record
  work done once a partition, and its yields spaced to the worker's (the buffer fell
  behind a backlog); no one-second pause before recovery.
* :mod:`~stream.runtime.intake`: the events topic taken from the consumer's fetch loop
  in batches that grow with the load, past Faust's stream machinery (which capped the
  intake near 3,000 events/s); a batch acknowledged with ``Consumer.ack``'s bookkeeping
  in one pass; Faust keeps membership, fetching and commits.
* :mod:`~stream.runtime.tables`: table writes read and written in the store directly,
  their changelog records sent once a batch in Faust's own format (Faust's write path
  cost about 60 us a record).
* :mod:`~stream.runtime.publisher`: intents and changelog records sent as one record
  batch per partition.
* :mod:`~stream.runtime.membership`: the group member a killed predecessor left
  behind is removed at start, so a restart does not wait out its session.
* :mod:`~stream.runtime.worker`: the worker (:class:`~stream.runtime.worker.Worker`): its
  events loop, model load and reload, readiness and rebalance handling, as one object.
* :mod:`~stream.runtime.app`: builds the Faust app, its topics and tables, and registers
  the worker on it.

Names are imported on first use: importing this package does not load Faust.
"""

from stream.lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
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
    },
)
