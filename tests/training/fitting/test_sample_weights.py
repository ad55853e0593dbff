"""Sample weights reach every model's fit: a sampled idle moment weighs as the moments it
stands for in the loss of each baseline, network, branch and the cold-start prior."""

from __future__ import annotations

import numpy as np
import pytest

from stream.domain.events import Event
from tests.training.conftest import MIN, SPLIT
from training.config import TrainConfig
from training.fitting.networks.fit import NetworkData
from training.fitting.networks.interaction_graph import InteractionGraph
from training.fitting.seed_run import TrainingData
from training.fitting.weights import decide_weights, tabular_rows
from training.protocol.budget import DayPairs
from training.protocol.examples import build_examples
from training.protocol.stages import Stages


@pytest.fixture(scope="module")
def weighted_data(synthetic_events_list: list[Event]) -> TrainingData:
    """The synthetic clickstream with 30% of the idle training moments kept (weight 1/0.3)."""
    kw = dict(n_candidates=8, horizon_ms=10 * MIN, split=SPLIT, neg_group_rate=0.3)
    parts = build_examples(synthetic_events_list, **kw)
    resets = [100 * MIN, 200 * MIN, 300 * MIN, SPLIT.val_start, SPLIT.test_start]
    cold = build_examples(synthetic_events_list, reset_at=resets, **kw)
    tr, va = parts["train"], parts["val"]
    rows, w = tabular_rows(tr.y, tr.weights(), None, 0)
    np.testing.assert_allclose(np.unique(w), [1.0, 1 / 0.3], rtol=1e-6)  # sampled rows weigh more
    Xtr = tr.X(rows)
    graph = InteractionGraph.from_events(synthetic_events_list, known_until=SPLIT.val_start)
    nets = NetworkData.build(tr, rows, Xtr, va, graph, w)
    pairs = DayPairs.of_examples(va, 0)
    return TrainingData(tr, va, parts["test"], rows, Xtr, w, nets, pairs, cold)


def test_the_weights_reach_each_models_fit(
    weighted_data: TrainingData, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lightgbm
    import xgboost
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    import training.fitting.branches as branches
    import training.fitting.networks.fit as network_fit
    from training.fitting.seed import fit_seed

    seen: dict[str, list[np.ndarray | None]] = {}

    def spy(cls: type, name: str) -> None:
        real = cls.fit

        def fit(self, X, y, *args, sample_weight=None, **kw):  # noqa: ANN001
            seen.setdefault(name, []).append(sample_weight)
            return real(self, X, y, *args, sample_weight=sample_weight, **kw)

        monkeypatch.setattr(cls, "fit", fit)

    for cls, name in (
        (LogisticRegression, "logistic"),
        (LinearSVC, "svm"),
        (RandomForestClassifier, "random_forest"),
        (ExtraTreesClassifier, "completely_random"),
        (xgboost.XGBClassifier, "xgboost"),
        (lightgbm.LGBMClassifier, "lightgbm"),
    ):
        spy(cls, name)
    real_network, real_resnet = network_fit.fit_network, branches.fit_resnet

    def network(*args, w=None, **kw):  # noqa: ANN001, ANN202
        seen.setdefault("networks", []).append(w)
        return real_network(*args, w=w, **kw)

    def resnet(*args, sample_weights=False, **kw):  # noqa: ANN001, ANN202
        seen.setdefault("resnet", []).append(sample_weights)
        return real_resnet(*args, sample_weights=sample_weights, **kw)

    monkeypatch.setattr(network_fit, "fit_network", network)
    monkeypatch.setattr(branches, "fit_resnet", resnet)
    cfg = TrainConfig(quick=True, progress=False).scaled()
    cfg.window, cfg.stride = 100, 85
    run = fit_seed(0, cfg, weighted_data, {}, Stages(lambda m: None), lambda m: None, None)
    w = weighted_data.w
    assert w is not None
    n = len(w)
    # the linear models, the random forest and the boosters: the training rows' weights
    for name in ("svm", "xgboost", "lightgbm"):
        assert seen[name] and all(np.array_equal(s, w) for s in seen[name]), name
    assert np.array_equal(seen["random_forest"][0], w)  # the baseline's; the deep forest's follow
    # logistic regression: the baseline's fit, and the cold-start prior's (its cold rows' weights)
    assert any(s is not None and len(s) == n and np.array_equal(s, w) for s in seen["logistic"])
    from models.cold_start import is_cold

    cold_tr = weighted_data.cold["train"]
    cold_w = cold_tr.weights()[is_cold(cold_tr.U_rows())]
    assert any(s is not None and np.array_equal(s, cold_w) for s in seen["logistic"])
    # every network, and the ResNet
    assert len(seen["networks"]) == 5 and all(np.array_equal(s, w) for s in seen["networks"])
    assert seen["resnet"] == [True]
    # the deep forest: every fold model of the scanner (each row once per window) and of the cascade
    forest_fits = seen["random_forest"][1:] + seen["completely_random"]
    assert forest_fits and all(s is not None and set(np.unique(s)) <= set(np.unique(w)) for s in forest_fits)
    assert run.scorer is not None


def test_weights_are_used_when_they_help_on_validation_and_say_why(weighted_data: TrainingData) -> None:
    td = weighted_data
    y = td.tr.y[td.rows]
    off = decide_weights("off", td.Xtr, y, td.w, td.va.X(), td.va.y, 0)
    on = decide_weights("on", td.Xtr, y, td.w, td.va.X(), td.va.y, 0)
    auto = decide_weights("auto", td.Xtr, y, td.w, td.va.X(), td.va.y, 0)
    assert not off["used"] and on["used"] and off["reason"] == on["reason"] == "as configured"
    probe = auto["probe"]["val_pr_auc"]
    assert auto["used"] == (probe["weighted"] > probe["unweighted"]) and "LightGBM" in auto["reason"]
    with pytest.raises(ValueError, match="on, off or auto"):
        decide_weights("maybe", td.Xtr, y, td.w, td.va.X(), td.va.y, 0)


def test_the_resnet_loss_weighs_each_catalogue(weighted_data: TrainingData) -> None:
    from training.fitting.resnet import fit_resnet, score_resnet

    tr, va = weighted_data.tr, weighted_data.va
    nets = [fit_resnet(tr, va, 8, max_epochs=1, seed=0, sample_weights=flag)[0] for flag in (False, True)]
    a, b = (score_resnet(net, va) for net in nets)
    assert not np.allclose(a, b)
