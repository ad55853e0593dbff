"""Kafka I/O: clients configured from the settings, the embedded broker, replaying a
clickstream onto the events topic, reading states back from a changelog, the worker
as a subprocess (for the bench, the demo and tests), and the JSON Schemas of what we
publish.
"""

from stream.io.broker import BrokerError, EmbeddedBroker, free_port
from stream.io.kafka import KafkaUnreachable, consumer, ensure_topics, producer, read_topic
from stream.io.replay import ReplayStats, replay_events
from stream.io.state_dump import changelog_states, offline_states
from stream.io.worker_process import WorkerProcess, scrape

__all__ = [
    "BrokerError",
    "EmbeddedBroker",
    "KafkaUnreachable",
    "ReplayStats",
    "WorkerProcess",
    "changelog_states",
    "consumer",
    "ensure_topics",
    "free_port",
    "offline_states",
    "producer",
    "read_topic",
    "replay_events",
    "scrape",
]
