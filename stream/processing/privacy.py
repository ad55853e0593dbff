"""Personal data: keyed pseudonyms for user ids.

With ``INTENT_PSEUDONYMIZE_KEY`` set (or ``INTENT_PSEUDONYMIZE_KEY_FILE``), every user id
is replaced by a keyed hash before it reaches state, the changelogs or any output, so
neither the tables nor the intents hold the shop's ids. The same key maps the same id
to the same pseudonym, so features still accumulate per user; without the key the
mapping cannot be reversed or recomputed. (Fields such as e-mail or phone never get
that far: the event schema drops every field it does not know.)

>>> p = Pseudonymizer("secret")
>>> p("266079") == p("266079"), p("266079") != p("266080"), len(p("266079"))
(True, True, 20)
>>> Pseudonymizer("")("266079")
'266079'
"""

from __future__ import annotations

import hashlib
import hmac

from stream.domain.events import Event

__all__ = ["Pseudonymizer"]


class Pseudonymizer:
    def __init__(self, key: str) -> None:
        self.key = key.encode()

    @property
    def enabled(self) -> bool:
        return bool(self.key)

    def __call__(self, user_id: str) -> str:
        if not self.key:
            return user_id
        return hmac.new(self.key, user_id.encode(), hashlib.sha256).hexdigest()[:20]

    def event(self, event: Event) -> Event:
        if not self.key:
            return event
        return event._replace(user_id=self(event.user_id))

    def __repr__(self) -> str:  # never show the key
        return f"Pseudonymizer(enabled={self.enabled})"
