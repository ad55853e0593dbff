from collections import Counter

from stream.bench.generator import ClickstreamGenerator


def test_generator_follows_the_real_skew_and_funnel(jdata_events) -> None:
    gen = ClickstreamGenerator.fit(jdata_events, seed=3)
    events = gen.generate(20_000, n_users=2_000)
    types = Counter(e.type for e in events)
    assert types["view"] > types["addtocart"] > types["transaction"] > 0
    items = Counter(e.item_id for e in events).most_common()
    assert items[0][1] > 10 * items[len(items) // 2][1]  # popularity is skewed
    assert [e.ts for e in events] == sorted(e.ts for e in events)
    assert len({e.event_id for e in events}) == len(events)
