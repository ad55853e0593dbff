"""What a label is: the horizon a purchase must follow a scored moment within, and the
activity buckets results are broken down by.

Training cuts its labels with :data:`DEFAULT_HORIZON_MS` (shortened when a split is too
short for it) and records the horizon it used in the artifact; serving reads the
artifact's horizon and falls back to this default for an artifact that has none.

>>> DEFAULT_HORIZON_MS // 60_000
30
>>> [activity_bucket(n) for n in (0, 4, 5, 49, 50)]
['cold', 'cold', 'warm', 'warm', 'heavy']
"""

from __future__ import annotations

__all__ = ["DEFAULT_HORIZON_MS", "ACTIVITY_BUCKETS", "activity_bucket"]

#: a scored (user, item) moment is positive if the user buys the item within this
DEFAULT_HORIZON_MS = 30 * 60_000

#: (name, fewest events): cold start is fewer than 5 events, as in the related study
ACTIVITY_BUCKETS = (("cold", 0), ("warm", 5), ("heavy", 50))


def activity_bucket(n_events: int) -> str:
    """The activity bucket of a user with ``n_events`` events so far."""
    name = ACTIVITY_BUCKETS[0][0]
    for bucket, lowest in ACTIVITY_BUCKETS:
        if n_events >= lowest:
            name = bucket
    return name
