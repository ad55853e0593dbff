"""Coupons paced over the day go to better intents than first come, first served, and
never exceed the budget (the Taobao test days replayed, a budget of 10% of the intents).

The suite's model is the quick JD.com one (a Taobao model takes 20 minutes and 4 GB to
train): on Taobao its probabilities barely predict purchases, so the realised purchase
rate of either policy is a handful of purchases that moves from run to run (the KLL
sketches are randomised) and is printed, not asserted. With a quick Taobao model the paced
coupons were bought within a day 4.0-4.2% of the time against 2.1-2.6% (three replays;
docs/operations.md, the marketing consumer)."""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict

import numpy as np

from stream.commands.coupons import DAY_MS, CouponBook, CouponPolicy
from tests.stream.taobao_replay import china_day


def test_paced_coupons_are_better_than_first_come_first_served(taobao_swap_replay) -> None:
    intents = sorted(
        (i for i in taobao_swap_replay.intents if china_day(i.event_ts) >= 0), key=lambda i: i.event_ts
    )
    bought: dict[tuple[str, str], list[int]] = defaultdict(list)
    for user, item, ts in taobao_swap_replay.purchases:
        bought[(user, item)].append(ts)

    def realised(intent) -> bool:  # bought within a day (the coupon's cool-down)
        times = sorted(bought[(intent.user_id, intent.item_id)])
        k = bisect.bisect_right(times, intent.event_ts)
        return k < len(times) and times[k] - intent.event_ts <= DAY_MS

    budget = round(0.1 * len(intents) / 2)  # 10% of a day's intents
    figures = {}
    for pacing in ("fcfs", "quantile"):
        book = CouponBook(CouponPolicy(daily_budget=budget, pacing=pacing))
        granted = [i for i in intents if book.decide(i, now_ms=i.event_ts).coupon]  # processed as they happen
        assert max(Counter(i.event_ts // DAY_MS for i in granted).values()) <= budget  # never over budget
        figures[pacing] = (np.mean([i.probability for i in granted]), np.mean([realised(i) for i in granted]))
        print(pacing, len(granted), figures[pacing])
    assert figures["quantile"][0] > 1.1 * figures["fcfs"][0]  # mean probability
