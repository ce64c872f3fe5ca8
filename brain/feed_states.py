"""Feed states: what the live loop last knew of each feed it reads (running, ended, failing),
written by the leader when a state changes and shown by every console."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from brain.errors import BrainError
from brain.part import BrainPart
from brain.records import FeedStateRecord
from brain.schema import feed_states
from brain.upsert import insert_on_conflict

FEED_STATES = ("running", "ended", "failing")


class FeedStatesMixin(BrainPart):
    def record_feed_state(self, symbol: str, timeframe: str, state: str, detail: str = "",
                          *, at: datetime | None = None) -> None:
        """The feed of (symbol, timeframe) is now in `state` (one of FEED_STATES), with a reason."""
        if state not in FEED_STATES:
            raise BrainError(f"feed state {state!r}: one of {', '.join(FEED_STATES)}")
        row = {"symbol": symbol, "timeframe": timeframe, "state": state, "detail": detail,
               "updated_at": at or datetime.now(UTC)}
        with self._write() as conn:
            statement = insert_on_conflict(conn, feed_states)
            conn.execute(statement.on_conflict_do_update(
                index_elements=["symbol", "timeframe"],
                set_={name: statement.excluded[name] for name in ("state", "detail", "updated_at")},
            ), row)

    def feed_states(self) -> list[FeedStateRecord]:
        """Every feed's last known state, by symbol then timeframe."""
        query = select(feed_states).order_by(feed_states.c.symbol, feed_states.c.timeframe)
        with self._read() as conn:
            return [FeedStateRecord(**row._mapping) for row in conn.execute(query)]
