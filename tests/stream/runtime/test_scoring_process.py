"""The model in a child process: the same scores as in-process, refusals, a dead child."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from models.artifact import load_artifact
from stream.runtime.scoring_process import ScoringProcess, ScoringProcessError


def batch(n: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    return (rng.random((n, 150), dtype=np.float32), rng.random((n, 120), dtype=np.float32), [16, 16, n - 32])


def test_scores_equal_the_in_process_model_and_survive_a_killed_child(quick_model) -> None:
    path = quick_model[0]
    local = load_artifact(path).scorer
    remote = ScoringProcess(path, local.model_version, timeout_s=30)
    try:
        assert remote.model_version == local.model_version
        U, I, sizes = batch()
        a, b = remote.score(U, I, sizes), local.score(U, I, sizes)
        for field in ("probability", "resnet", "forest"):
            np.testing.assert_allclose(getattr(a, field), getattr(b, field), rtol=1e-6, atol=1e-7)
        os.kill(remote.pid, signal.SIGKILL)  # the child dies: the call fails, a new child answers
        with pytest.raises(ScoringProcessError):
            remote.score(U, I, sizes)
        np.testing.assert_allclose(remote.score(U, I, sizes).probability, b.probability, rtol=1e-6, atol=1e-7)
    finally:
        remote.close()


def test_a_model_other_than_the_verified_one_is_refused(quick_model) -> None:
    with pytest.raises(ScoringProcessError, match="expected someone-else"):
        ScoringProcess(quick_model[0], "someone-else")


async def test_async_scores_match_and_an_abandoned_call_never_answers_the_next(quick_model) -> None:
    import asyncio

    path = quick_model[0]
    local = load_artifact(path).scorer
    remote = ScoringProcess(path, local.model_version, timeout_s=30)
    try:
        U, I, sizes = batch()
        expected = local.score(U, I, sizes).probability
        np.testing.assert_allclose(
            (await remote.score_async(U, I, sizes)).probability, expected, rtol=1e-6, atol=1e-7
        )
        # abandoned while the child works on a large batch: its answer must not be taken
        # for the next call's (the child is replaced first)
        big = batch(4096, seed=1)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(remote.score_async(*big), 0.001)
        other = batch(seed=2)
        np.testing.assert_allclose(
            (await remote.score_async(*other)).probability,
            local.score(*other).probability,
            rtol=1e-6,
            atol=1e-7,
        )
        os.kill(remote.pid, signal.SIGKILL)
        with pytest.raises(ScoringProcessError):
            await remote.score_async(U, I, sizes)
        np.testing.assert_allclose(
            (await remote.score_async(U, I, sizes)).probability, expected, rtol=1e-6, atol=1e-7
        )
    finally:
        remote.close()


async def test_concurrent_async_calls_queue_and_each_gets_its_own_answer(quick_model) -> None:
    import asyncio

    path = quick_model[0]
    local = load_artifact(path).scorer
    remote = ScoringProcess(path, local.model_version, timeout_s=30)
    try:
        batches = [batch(40 + 8 * k, seed=k) for k in range(4)]
        calls = [asyncio.ensure_future(remote.score_async(*b)) for b in batches]
        calls[2].cancel()  # given up while queued: skipped, the others keep their answers
        answers = await asyncio.gather(*calls, return_exceptions=True)
        assert isinstance(answers[2], asyncio.CancelledError)
        for k in (0, 1, 3):
            np.testing.assert_allclose(
                answers[k].probability, local.score(*batches[k]).probability, rtol=1e-6, atol=1e-7
            )
        # a child that dies fails every queued call; the next call starts a new child
        calls = [asyncio.ensure_future(remote.score_async(*b)) for b in batches[:2]]
        await asyncio.sleep(0)
        os.kill(remote.pid, signal.SIGKILL)
        for outcome in await asyncio.gather(*calls, return_exceptions=True):
            assert isinstance(outcome, ScoringProcessError) or outcome.probability.shape == (40,)
        np.testing.assert_allclose(
            (await remote.score_async(*batches[1])).probability,
            local.score(*batches[1]).probability,
            rtol=1e-6,
            atol=1e-7,
        )
    finally:
        remote.close()
