"""``intent archive``: the ``events`` topic kept as Parquet files by event day, each valid
event exactly once, for training and evaluation to read back
(:class:`~stream.domain.archive_reader.ArchiveReader`, ``--format parquet``).

A room of its own, beside the worker rather than in it: it is another consumer group
with another guarantee (files made durable before offsets move, where the worker's
tables ride on changelogs), it needs no Faust (a plain aiokafka consumer) and no model,
and it is deployed, scaled and restarted apart from the workers. The layout it writes is
the domain's (:mod:`stream.domain.archive_layout`), so the reader needs nothing from here.

* :mod:`~stream.archive.flush`: a partition's events on their way into durable files;
* :mod:`~stream.archive.resume`: where a partition's archive ends, after any crash;
* :mod:`~stream.archive.partitions`: owned partitions, their flushes, the roll rule;
* :mod:`~stream.archive.archiver`: the consumer loop, commits and rebalances.

Names are imported on first use.

>>> from stream import archive
>>> archive.start_offset(committed=100, archived=250)
250
"""

from stream.lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "ArchiveCounts": "archiver",
        "ArchiveError": "archiver",
        "Archiver": "archiver",
        "run_archive": "archiver",
        "Flush": "flush",
        "archive_events": "flush",
        "PartitionFlushes": "partitions",
        "Resume": "resume",
        "resume_partitions": "resume",
        "start_offset": "resume",
    },
)
