"""MLflow exports: what `huracan export mlflow` already wrote to each tracking server.

Keyed by the tracking URI (never one with a password: the export refuses those), so one brain can
mirror to several servers. A version's row is written only once its run is complete and its
registered model version made, so exporting again adds exactly the versions that are missing; a
slot's row remembers the version its `champion` alias was last set to, so the alias moves only
when the champion changed. The mapping is all the brain keeps: the runs themselves live in MLflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from brain.errors import BrainError
from brain.part import BrainPart
from brain.schema import mlflow_models, mlflow_runs, model_versions, slots
from brain.upsert import insert_on_conflict


@dataclass(frozen=True)
class MlflowRunExport:
    """One version as a tracking server holds it."""

    tracking_uri: str
    version_id: int
    slot_key: str
    number: int
    experiment_id: str
    run_id: str
    model_version: str | None  # the registered model's version made from the run
    exported_at: datetime


@dataclass(frozen=True)
class MlflowModelExport:
    """One slot as a tracking server holds it: its experiment, registered model and alias."""

    tracking_uri: str
    slot_key: str
    experiment_id: str
    registered_model: str
    champion_number: int | None  # the version the `champion` alias was last set to
    updated_at: datetime


def _runs_query():
    return (
        select(mlflow_runs.c.tracking_uri, mlflow_runs.c.version_id, slots.c.key.label("slot_key"),
               model_versions.c.number, mlflow_runs.c.experiment_id, mlflow_runs.c.run_id,
               mlflow_runs.c.model_version, mlflow_runs.c.exported_at)
        .join(model_versions, model_versions.c.id == mlflow_runs.c.version_id)
        .join(slots, slots.c.id == model_versions.c.slot_id)
    )


class MlflowExportsMixin(BrainPart):
    def mlflow_runs(self, tracking_uri: str, slot_key: str | None = None) -> dict[int, MlflowRunExport]:
        """The versions exported to `tracking_uri` (of one slot, or all), by version id."""
        query = _runs_query().where(mlflow_runs.c.tracking_uri == tracking_uri)
        if slot_key is not None:
            query = query.where(slots.c.key == slot_key)
        with self._read() as conn:
            return {row.version_id: MlflowRunExport(**row._mapping)
                    for row in conn.execute(query.order_by(mlflow_runs.c.id))}

    def record_mlflow_run(self, tracking_uri: str, version_id: int, *, experiment_id: str, run_id: str,
                          model_version: str | None, at: datetime | None = None) -> None:
        """Version `version_id` is complete on `tracking_uri` as run `run_id`. Recording it again
        (two exporters at once) keeps the first row: both made the same run, found by its tags."""
        with self._write() as conn:
            known = select(model_versions.c.id).where(model_versions.c.id == version_id)
            if conn.execute(known).scalar() is None:
                raise BrainError(f"no model version with id {version_id}")
            conn.execute(
                insert_on_conflict(conn, mlflow_runs).values(
                    tracking_uri=tracking_uri, version_id=version_id, experiment_id=experiment_id,
                    run_id=run_id, model_version=model_version, exported_at=at or datetime.now(UTC),
                ).on_conflict_do_nothing(index_elements=["tracking_uri", "version_id"])
            )

    def mlflow_model(self, tracking_uri: str, slot_key: str) -> MlflowModelExport | None:
        query = select(mlflow_models).where(mlflow_models.c.tracking_uri == tracking_uri,
                                            mlflow_models.c.slot_key == slot_key)
        with self._read() as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else MlflowModelExport(**row._mapping)

    def record_mlflow_model(self, tracking_uri: str, slot_key: str, *, experiment_id: str,
                            registered_model: str, champion_number: int | None,
                            at: datetime | None = None) -> None:
        """The slot's experiment and registered model on `tracking_uri`, and where its alias is now."""
        row = {"tracking_uri": tracking_uri, "slot_key": slot_key, "experiment_id": experiment_id,
               "registered_model": registered_model, "champion_number": champion_number,
               "updated_at": at or datetime.now(UTC)}
        with self._write() as conn:
            statement = insert_on_conflict(conn, mlflow_models)
            conn.execute(statement.on_conflict_do_update(
                index_elements=["tracking_uri", "slot_key"],
                set_={name: statement.excluded[name]
                      for name in ("experiment_id", "registered_model", "champion_number", "updated_at")},
            ), row)
