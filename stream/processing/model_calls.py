"""A staged batch's model call: queued in the model process, or run on one thread.

The processor submits a batch's pairs when the batch is staged and awaits the answer when
it is finished (the worker overlaps the two, see :mod:`stream.processing.processor`).

>>> import asyncio, numpy as np
>>> from models.scorer import Scores
>>> class Half:
...     def score(self, U, I, sizes):
...         p = np.full(len(U), 0.5); return Scores(p, p, p)
>>> async def main():
...     U = I = np.zeros((2, 1))
...     return (await ModelCalls(timeout_s=5).submit(Half(), U, I, [2])).probability
>>> asyncio.run(main()).tolist()
[0.5, 0.5]
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from models.scorer import Scorer, Scores

__all__ = ["ModelCalls"]


class ModelCalls:
    """Starts model calls; ``timeout_s`` bounds a call run on the thread (the model process
    answers or fails each call within its own timeout)."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._thread: ThreadPoolExecutor | None = None  # an in-process model's calls

    def submit(
        self, scorer: Scorer, U: np.ndarray, I: np.ndarray, sizes: list[int]
    ) -> asyncio.Future[Scores]:
        """Start a model call: queued in the model process when the scorer is one, or else
        one at a time on a thread of this process."""
        submit = getattr(scorer, "submit", None)  # the model process's
        if submit is not None:
            return submit(U, I, sizes)
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="intent-model")
        call = asyncio.get_running_loop().run_in_executor(self._thread, scorer.score, U, I, sizes)
        return asyncio.ensure_future(asyncio.wait_for(call, self.timeout_s))
