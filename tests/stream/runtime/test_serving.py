"""The artifact as the worker serves it: attributes found under pseudonyms, and the
label horizon taken from the artifact and swapped with it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import orjson
import pytest

from models.artifact import load_artifact
from models.scorer import Scores
from stream.config import Settings
from stream.domain.events import Event, encode_event
from stream.domain.features import USER_LAYOUT
from stream.monitoring.metrics import WorkerMetrics
from stream.processing.privacy import Pseudonymizer
from stream.processing.processor import EventProcessor, ProcessorConfig, RawMessage, Sinks
from stream.runtime.serving import serving_model, serving_policy

TS = 1_454_284_800_000
THREAD = Settings.from_env({}, scoring="thread")  # no child process in a unit test


class RecordingScorer:
    """Records the U rows it is asked to score; never publishes."""

    model_version = "recording"

    def __init__(self) -> None:
        self.U: list[np.ndarray] = []

    def score(self, U, I, sizes):
        self.U.append(U)
        p = np.zeros(len(U), dtype=np.float32)
        return Scores(p, p, p)


async def _nowhere(*args) -> None:
    return None


def _processor(model, pseudonymize_key: str = "") -> EventProcessor:
    return EventProcessor(
        {},
        {},
        {},
        model,
        Sinks(_nowhere, _nowhere, _nowhere),
        WorkerMetrics(),
        ProcessorConfig(cooldown_ms=3_600_000, max_candidates=16, pseudonymize_key=pseudonymize_key),
    )


def _attribute_slots(U: np.ndarray) -> tuple[int, int, int]:
    """(age band, sex, level) as one-hot positions in U (see stream.domain.features.USER_LAYOUT)."""
    row = U[0]
    age, sex, level = (int(np.argmax(row[USER_LAYOUT.slice(name)])) for name in ("age", "sex", "level"))
    return age, sex, level


async def test_pseudonymised_users_keep_their_attributes(quick_model) -> None:
    """With INTENT_PSEUDONYMIZE_KEY the processor replaces the user id before the
    features look the user's attributes up: the served catalogue must know the pseudonym."""
    loaded = load_artifact(quick_model[0])
    uid, attrs = next((u, a) for u, a in loaded.catalogue.users.items() if a[0] and a[1] < 3 and a[2])
    settings = Settings.from_env({}, scoring="thread", pseudonymize_key="k3y")
    model = serving_model(loaded, settings)
    scorer = RecordingScorer()
    model.scorer = scorer
    proc = _processor(model, settings.pseudonymize_key)
    event = Event("e1", uid, "i1", "view", TS)
    await proc.process_batch([RawMessage(uid.encode(), encode_event(event), TS / 1000, 0)])
    assert list(proc.users) == [Pseudonymizer("k3y")(uid)]  # the raw id never reached state
    assert _attribute_slots(scorer.U[0]) == attrs  # not "unknown" age, sex and level

    plain = serving_model(loaded, THREAD)  # without a key, the catalogue is served as trained
    assert plain.catalogue.user(uid) == attrs


def _with_horizon(src: Path, dst: Path, version: str, horizon_ms: int) -> Path:
    shutil.copytree(src, dst)
    manifest = orjson.loads((dst / "manifest.json").read_bytes())
    manifest["model_version"] = version
    manifest.setdefault("training_data", {})["horizon_ms"] = horizon_ms
    (dst / "manifest.json").write_bytes(orjson.dumps(manifest))
    return dst


def test_horizon_comes_from_the_artifact_and_swaps_with_it(quick_model, tmp_path: Path) -> None:
    """The gate's horizon is the served artifact's (manifest ``training_data.horizon_ms``),
    and a hot swap changes it together with the threshold."""
    first = load_artifact(_with_horizon(quick_model[0], tmp_path / "a", "h-20min", 20 * 60_000))
    second = load_artifact(_with_horizon(quick_model[0], tmp_path / "b", "h-5min", 5 * 60_000))
    second.scorer.threshold = first.scorer.threshold / 2
    proc = _processor(serving_model(first, THREAD))
    gate = proc.gate()
    assert (gate.horizon_ms, gate.threshold) == (20 * 60_000, pytest.approx(first.scorer.threshold))
    proc.model = serving_model(second, THREAD)  # what the worker's hot swap does
    gate = proc.gate()
    assert (gate.horizon_ms, gate.threshold) == (5 * 60_000, pytest.approx(second.scorer.threshold))


def test_operator_overrides_win_over_the_artifact_and_unset_means_the_model(quick_model) -> None:
    """INTENT_THRESHOLD and INTENT_HORIZON_MIN replace the artifact's values, each on its own;
    unset or empty, the model's own are served (no sentinel value)."""
    loaded = load_artifact(quick_model[0])
    own = serving_policy(loaded, Settings.from_env({}))
    assert own.threshold == pytest.approx(loaded.scorer.threshold)
    assert own.horizon_ms == loaded.manifest["training_data"]["horizon_ms"]
    assert serving_policy(loaded, Settings.from_env({"INTENT_THRESHOLD": ""})) == own
    both = serving_policy(loaded, Settings.from_env({"INTENT_THRESHOLD": "0.25", "INTENT_HORIZON_MIN": "45"}))
    assert (both.threshold, both.horizon_ms) == (0.25, 45 * 60_000)
    only_t = serving_policy(loaded, Settings.from_env({"INTENT_THRESHOLD": "0"}))
    assert (only_t.threshold, only_t.horizon_ms) == (0.0, own.horizon_ms)
