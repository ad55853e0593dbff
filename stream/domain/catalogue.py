"""Reference attributes of users and items (the paper's one-hot U and I inputs).

The JD.com data carries user demographics (age band, sex, level) and item attributes
(a1..a3, category, brand, comment bucket). Behavioural features need none of them;
when present they are looked up here. A catalogue ships inside the model artifact as
JSON, so serving and training read the same reference data.

>>> c = Catalogue(users={"u1": (3, 1, 4)}, items={})
>>> c.user("u1"), c.user("nobody")
((3, 1, 4), None)
>>> Catalogue.from_json(c.to_json()).users == c.users
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

__all__ = ["Catalogue", "UserAttrs", "ItemAttrs", "AGE_BANDS"]

# (age band 0..6 with 0 unknown, sex 0..2 or 3 unknown, level 1..5 or 0 unknown)
UserAttrs = tuple[int, int, int]
# (a1, a2, a3, brand, comment_num 0..4 or -1, has_bad_comment, bad_comment_rate)
ItemAttrs = tuple[int, int, int, str, int, int, float]
AGE_BANDS = 7


@dataclass
class Catalogue:
    """User and item attributes by id; unknown ids simply have none."""

    users: dict[str, UserAttrs] = field(default_factory=dict)
    items: dict[str, ItemAttrs] = field(default_factory=dict)

    def user(self, user_id: str) -> UserAttrs | None:
        return self.users.get(user_id)

    def item(self, item_id: str) -> ItemAttrs | None:
        return self.items.get(item_id)

    def to_json(self) -> bytes:
        return orjson.dumps({"users": self.users, "items": self.items})

    @classmethod
    def from_json(cls, raw: bytes) -> Catalogue:
        d = orjson.loads(raw)
        return cls(
            users={k: tuple(v) for k, v in d["users"].items()},
            items={k: tuple(v) for k, v in d["items"].items()},
        )
