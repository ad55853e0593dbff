"""The grid search steps past an end its best point sits at, and says why it stopped."""

from __future__ import annotations

from training.fitting.grids import Axis, GridSearch, add, bounded


def test_a_two_axis_grid_steps_along_the_axis_whose_end_is_best() -> None:
    # the best lies at depth 32 and 80 trees: past both starting ends
    def score(p: dict) -> tuple[float, None]:
        depth = 64 if p["depth"] is None else p["depth"]
        return -abs(depth - 32) / 32 - abs(p["trees"] - 80) / 80, None

    search = GridSearch(
        [
            Axis("depth", (8, 16), bounded((4, 8, 16, 32, None))),
            Axis("trees", (20, 40), bounded((20, 40, 80, 160))),
        ],
        max_steps=5,
    ).run(score)
    assert search.best == {"depth": 32, "trees": 80} and search.ended == "inside"
    # the starting grid, then depth 32, depth None (unbounded), trees 80, trees 160
    assert [(r["depth"], r["trees"]) for r in search.curve[4:]] == [(32, 40), (None, 40), (32, 80), (32, 160)]
    assert sum(r["chosen"] for r in search.curve) == 1


def test_an_end_that_is_a_bound_or_the_step_limit_is_said() -> None:
    axis = Axis("leaves", (3, 7), bounded((3, 7)))
    assert GridSearch([axis]).run(lambda p: (-p["leaves"], None)).ended == "bound"
    growing = Axis("C", (1, 2), add(1))
    search = GridSearch([growing], max_steps=2).run(lambda p: (p["C"], None))
    assert search.ended == "max_steps" and search.best == {"C": 4}
    assert (
        GridSearch([growing], max_steps=9, budget_s=0.0).run(lambda p: (p["C"], None)).ended == "time_budget"
    )
