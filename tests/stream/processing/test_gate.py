from stream.processing.gate import IntentGate


def test_crossing_cooldown_and_outcomes() -> None:
    g = IntentGate(threshold=0.5, cooldown_ms=10_000, horizon_ms=5_000)
    s: dict = {}
    assert g.should_publish(s, "i", 0.9, now=0)
    assert not g.should_publish(s, "i", 0.9, now=1_000)  # still above: no flood
    assert g.should_publish(s, "i", 0.9, now=10_000)  # cool-down passed
    assert list(g.expire(s, now=16_000)) == ["i"]  # open past the horizon: false positive
    assert g.resolve_purchase(s, "i", now=16_500) == "fn"
    assert g.should_publish(s, "j", 0.6, now=20_000)
    assert g.resolve_purchase(s, "j", now=21_000) == "tp"
    assert g.resolve_purchase(s, "j", now=21_500) == "fn"  # one intent, one purchase credited
