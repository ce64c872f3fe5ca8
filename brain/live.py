"""Live predictions and their realised outcomes.

One row per (slot, version, bar): the champion's forecast made on a bar (and a shadow's, after a
promotion), its blend with the slot's online learner, and, once the slot's horizon has passed,
the realised forward return. Live metrics are computed by the scheduler (they need the engine's
metric definitions) and stored as `model_metrics` rows with scope 'live'; `live_summaries`
reads them back for the console in two queries.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, literal, select, update

from brain.column_types import UTCDateTime
from brain.errors import BrainError
from brain.part import BrainPart
from brain.registry import champion_versions, chosen
from brain.schema import bars, model_metrics, model_versions, predictions, slots
from brain.upsert import insert_on_conflict

BASIS_POINTS = 1e4
# What the live loop measures per version, stored in model_metrics as live_<name> rows, scope 'live'.
LIVE_METRICS = ("mae", "mse", "sharpe", "win_rate", "n")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # before any live row: "show them all"
_PREDICTION_KEYS = {
    "slot_key",
    "version_id",
    "ts",
    "predicted_at",
    "batch",
    "online",
    "blended",
    "realised",
    "realised_at",
    "details",
}


@dataclass(frozen=True)
class PredictionRecord:
    """A live forecast of one version on one bar; realised is None until its horizon has passed."""

    id: int
    slot_key: str
    version: int
    version_id: int
    ts: datetime  # the bar the forecast was made on
    predicted_at: datetime
    batch: float
    online: float | None
    blended: float
    realised: float | None  # forward return in bps over the slot's horizon
    realised_at: datetime | None
    # An agent's choice on the bar ({"action", "position", "q_values"} or {"size", "action"}).
    details: dict | None = None


def _select_predictions():
    return select(
        predictions.c.id,
        predictions.c.slot_key,
        model_versions.c.number.label("version"),
        predictions.c.version_id,
        predictions.c.ts,
        predictions.c.predicted_at,
        predictions.c.batch,
        predictions.c.online,
        predictions.c.blended,
        predictions.c.realised,
        predictions.c.realised_at,
        predictions.c.details,
    ).join(model_versions, model_versions.c.id == predictions.c.version_id)


def _checked_row(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    unknown = set(row) - _PREDICTION_KEYS
    if unknown:
        raise BrainError(
            f"prediction row has unknown keys {sorted(unknown)}; allowed: {sorted(_PREDICTION_KEYS)}"
        )
    missing = [key for key in ("slot_key", "version_id", "ts", "batch", "blended") if row.get(key) is None]
    if missing:
        raise BrainError(f"prediction row lacks {missing}")
    return {key: row.get(key) for key in _PREDICTION_KEYS} | {"predicted_at": row.get("predicted_at") or now}


class LiveMixin(BrainPart):
    def record_predictions(self, rows: list[dict[str, Any]]) -> int:
        """Store forecasts; a row whose (slot, version, bar) is already stored is left as it was,
        so a tick that runs twice writes nothing twice. Returns the rows newly stored."""
        if not rows:
            return 0
        now = datetime.now(UTC)
        prepared = [_checked_row(row, now) for row in rows]
        # Counted over the rows' own (slot, version, bar) span, on the unique index: a count of
        # the whole table grew with every forecast ever stored, and the live tick paid it twice.
        span = select(func.count()).select_from(predictions).where(
            predictions.c.slot_key.in_({row["slot_key"] for row in prepared}),
            predictions.c.version_id.in_({row["version_id"] for row in prepared}),
            predictions.c.ts.between(min(row["ts"] for row in prepared), max(row["ts"] for row in prepared)),
        )
        with self._write() as conn:
            before = conn.execute(span).scalar_one()
            statement = insert_on_conflict(conn, predictions).on_conflict_do_nothing(
                index_elements=["slot_key", "version_id", "ts"]
            )
            conn.execute(statement, prepared)
            return conn.execute(span).scalar_one() - before

    def last_prediction_ts(self, slot_key: str, version_id: int) -> datetime | None:
        """The newest bar `version_id` has forecast in `slot_key` (None before its first)."""
        with self._read() as conn:
            return conn.execute(
                select(func.max(predictions.c.ts)).where(
                    predictions.c.slot_key == slot_key, predictions.c.version_id == version_id
                )
            ).scalar()

    def last_bar_ts(self, symbol: str, timeframe: str) -> datetime | None:
        """The newest stored bar of a series (None when there is none): where feeds resume."""
        with self._read() as conn:
            return conn.execute(
                select(func.max(bars.c.ts)).where(bars.c.symbol == symbol, bars.c.timeframe == timeframe)
            ).scalar()

    def mature_predictions(
        self, slot_key: str, horizon: int | None = None, *, now: datetime | None = None
    ) -> int:
        """Fill `realised` for every forecast whose horizon has passed in the stored bars: the
        forward return in bps as the slot's target defines it (engine.targets.add_forward_return:
        (close[t+h] / close[t] - 1) * 1e4, h counted in stored bars). Returns the rows filled."""
        now = now or datetime.now(UTC)
        with self._write() as conn:
            slot = conn.execute(select(slots).where(slots.c.key == slot_key)).one_or_none()
            if slot is None:
                raise BrainError(f"no slot {slot_key}")
            horizon = int(horizon or slot.horizon)
            pending = conn.execute(
                select(predictions.c.id, predictions.c.ts).where(
                    predictions.c.slot_key == slot_key, predictions.c.realised.is_(None)
                )
            ).all()
            if not pending:
                return 0
            closes = conn.execute(
                select(bars.c.ts, bars.c.close)
                .where(
                    bars.c.symbol == slot.symbol,
                    bars.c.timeframe == slot.timeframe,
                    bars.c.ts >= min(ts for _, ts in pending),
                )
                .order_by(bars.c.ts)
            ).all()
            position = {ts: index for index, (ts, _) in enumerate(closes)}
            filled = []
            for prediction_id, ts in pending:
                index = position.get(ts)
                if index is None or index + horizon >= len(closes):
                    continue  # the future bar is not stored yet
                realised = (closes[index + horizon][1] / closes[index][1] - 1.0) * BASIS_POINTS
                filled.append({"row_id": prediction_id, "value": realised, "at": now})
            if filled:
                conn.execute(
                    update(predictions)
                    .where(predictions.c.id == bindparam("row_id"))
                    .values(realised=bindparam("value"), realised_at=bindparam("at")),
                    filled,
                )
            return len(filled)

    def list_predictions(
        self,
        slot_key: str,
        *,
        version: int | None = None,
        matured: bool | None = None,
        since: datetime | None = None,
        after: datetime | None = None,
        limit: int | None = None,
    ) -> list[PredictionRecord]:
        """Forecasts of a slot (one version's, or all) in bar order; with `limit`, the newest
        `limit`. `matured` True keeps realised ones only, False pending ones only; `since` keeps
        forecasts made (predicted_at) at or after it, `after` those on bars later than it."""
        query = _select_predictions().where(predictions.c.slot_key == slot_key)
        if version is not None:
            query = query.where(model_versions.c.number == int(version))
        if matured is not None:
            query = query.where(
                predictions.c.realised.is_not(None) if matured else predictions.c.realised.is_(None)
            )
        if since is not None:
            query = query.where(predictions.c.predicted_at >= since)
        if after is not None:
            query = query.where(predictions.c.ts > after)
        if limit is not None:
            query = query.order_by(predictions.c.ts.desc(), predictions.c.id.desc()).limit(int(limit))
        else:
            query = query.order_by(predictions.c.ts, predictions.c.id)
        with self._read() as conn:
            records = [PredictionRecord(**row._mapping) for row in conn.execute(query)]
        return sorted(records, key=lambda record: (record.ts, record.id)) if limit is not None else records

    def live_summaries(self, slot_keys: Collection[str] | None = None) -> dict[str, dict[str, Any]]:
        """Each slot's (or each of `slot_keys`') newest live metrics of its current champion, in
        one query: {slot_key: {"version": n, "ts": when measured, "mae": …, "sharpe": …, …}}.
        Slots whose champion has no live metrics yet are left out."""
        summaries: dict[str, dict[str, Any]] = {}
        with self._read() as conn:
            for row in conn.execute(_live_summaries_query(slot_keys is not None), chosen(slot_keys)):
                stamps = [row._mapping[f"{name}_ts"] for name in LIVE_METRICS]
                if all(stamp is None for stamp in stamps):
                    continue  # a champion not measured live yet
                summaries[row.slot_key] = {
                    "version": row.number, "ts": max(stamp for stamp in stamps if stamp is not None),
                    **{name: row._mapping[name] for name in LIVE_METRICS},
                }
        return summaries

    def last_forecasts(
        self, slot_keys: Collection[str] | None = None
    ) -> dict[str, tuple[datetime, datetime]]:
        """Each slot's (or each of `slot_keys`') newest forecast: {slot_key: (its bar, when it was
        made)}; slots that have never forecast are left out. An index seek per slot."""
        newest_bar = (select(func.max(predictions.c.ts)).where(predictions.c.slot_key == slots.c.key)
                      .scalar_subquery())
        made = predictions.alias("made")
        # Its own newest bar, correlated to `made` (nested in made_at, one to `slots` would not be).
        made_bar = (select(func.max(predictions.c.ts)).where(predictions.c.slot_key == made.c.slot_key)
                    .scalar_subquery())
        made_at = (select(func.max(made.c.predicted_at))
                   .where(made.c.slot_key == slots.c.key, made.c.ts == made_bar).scalar_subquery())
        query = select(slots.c.key, newest_bar.label("ts"), made_at.label("at"))
        if slot_keys is not None:
            query = query.where(slots.c.key.in_(sorted(slot_keys)))
        with self._read() as conn:
            rows = conn.execute(query).all()
        return {key: (ts, at) for key, ts, at in rows if ts is not None}

    def live_history(self, name: str = "sharpe", *, points: int = 20,
                     slot_keys: Collection[str] | None = None) -> dict[str, list[float | None]]:
        """Each slot's (or each of `slot_keys`') champion's last `points` live values of a metric,
        oldest first: the Models view's trend sparkline. One query; each champion's rows are found
        by an index seek."""
        query = _live_history_query(name, points, slot_keys is not None)
        history: dict[str, list[float | None]] = {}
        with self._read() as conn:
            for key, value in conn.execute(query, chosen(slot_keys)):
                history.setdefault(key, []).append(value)
        return history


@cache
def _live_summaries_query(only_chosen: bool):
    champions = champion_versions(only_chosen).subquery()
    columns = []
    for name in LIVE_METRICS:
        columns += [_newest_live(champions, name, model_metrics.c.value).label(name),
                    _newest_live(champions, name, model_metrics.c.ts).label(f"{name}_ts")]
    return select(champions.c.slot_key, champions.c.number, *columns)


@cache
def _live_history_query(name: str, points: int, only_chosen: bool):
    champions = champion_versions(only_chosen).subquery()
    rows, live = _live_metric(champions.c.version_id, f"live_{name}")
    oldest_shown = (
        select(rows.c.ts).where(*live).order_by(rows.c.ts.desc()).limit(1).offset(points - 1)
        .scalar_subquery()
    )
    return (
        select(champions.c.slot_key, model_metrics.c.value)
        .join(model_metrics, model_metrics.c.version_id == champions.c.version_id)
        .where(model_metrics.c.name == f"live_{name}", model_metrics.c.scope == "live",
               model_metrics.c.fold.is_(None),
               model_metrics.c.ts >= func.coalesce(oldest_shown, literal(EPOCH, UTCDateTime)))
        .order_by(champions.c.slot_key, model_metrics.c.ts, model_metrics.c.id)
    )


def _live_metric(version_id, stored_name: str):
    """An alias of model_metrics and the conditions that pick one version's live rows of one
    metric: what ix_model_metrics_live_newest (version_id, name, ts) answers by a seek."""
    rows = model_metrics.alias()
    return rows, (rows.c.version_id == version_id, rows.c.name == stored_name, rows.c.scope == "live",
                  rows.c.fold.is_(None))


def _newest_live(champions, name: str, column):
    """The newest live `column` (value or ts) of metric `name` for each champion, whatever the
    table's size."""
    rows, live = _live_metric(champions.c.version_id, f"live_{name}")
    return select(rows.c[column.name]).where(*live).order_by(rows.c.ts.desc()).limit(1).scalar_subquery()
