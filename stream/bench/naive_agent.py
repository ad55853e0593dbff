"""The bench's reference point: a naive Faust agent (one model call per event).

Same features, same model, same tables as the worker, but none of its batching: each
event is parsed, folded into state, and its user scored alone. Run with
``python -m stream.bench.naive_agent`` and the worker's ``INTENT_*`` environment.
"""

from __future__ import annotations

from typing import Any

import faust

from models.artifact import load_artifact
from stream.config import Settings
from stream.domain.events import InvalidEvent, parse_event
from stream.domain.features import pair_features
from stream.domain.state import UserState
from stream.domain.state_codec import decode_user, encode_user
from stream.monitoring.metrics import WorkerMetrics

__all__ = ["create_naive_app"]


def create_naive_app(settings: Settings) -> tuple[faust.App, WorkerMetrics]:
    from stream.runtime.serving import serving_policy

    app = faust.App(
        f"{settings.app_id}-naive",
        broker=f"kafka://{settings.bootstrap}",
        store="memory://",
        web_enabled=False,
        topic_partitions=settings.partitions,
        consumer_auto_offset_reset="earliest",
        datadir=str(settings.data_dir / "naive"),
        **settings.faust_consumer(),
    )
    topic = app.topic(
        settings.topic_events, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    out = app.topic(
        settings.topic_intents, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    # Faust's own table, written through Faust's own API (a changelog record an event):
    # the compact state bytes, decoded on every read.
    schema: Any = faust.Schema(key_type=bytes, key_serializer="raw", value_serializer="raw")
    users = app.Table(
        "naive-users", schema=schema, key_type=bytes, partitions=settings.partitions, use_partitioner=True
    )
    loaded = load_artifact(settings.model_dir)
    threshold = serving_policy(loaded, settings).threshold  # INTENT_THRESHOLD, as the worker honours it
    metrics = WorkerMetrics()

    @app.agent(topic)
    async def naive(stream: Any) -> None:
        async for value in stream:
            try:
                event = parse_event(value)
            except InvalidEvent:
                continue
            key = event.user_id.encode()
            raw = users.get(key)
            state = UserState() if raw is None else decode_user(raw)
            state.update(event)
            users[key] = encode_user(state)
            cands = state.candidates(settings.max_candidates)
            U, I = pair_features(loaded.spec, event.user_id, state, cands, {}, loaded.catalogue)
            scores = loaded.scorer.score(U, I, [len(cands)])
            metrics.events.labels(type=event.type).inc()
            for item, p in zip(cands, scores.probability):
                if p >= threshold:
                    await out.send(key=event.user_id.encode(), value=item.encode())

    return app, metrics


if __name__ == "__main__":
    from stream.runtime.app import run_reference_agent

    run_reference_agent(create_naive_app)
