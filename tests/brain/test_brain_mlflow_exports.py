"""The brain's MLflow mapping (migration 14): which versions each tracking server holds as which
run, and where each slot's `champion` alias was last set. Both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect

from brain import BrainError, open_brain

SLOT = "GOOG:1d:fwd_ret_1"
SERVER, OTHER = "http://127.0.0.1:5000", "http://mlflow.internal:5000"
T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def _versions(brain, count: int = 2) -> list[int]:
    brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
    return [brain.add_version(SLOT, model_kind="linear", manifest={"seed": n}, artifact=f"model {n}".encode(),
                              artifact_format="skops", metrics=[], data_start=None, data_end=None).id
            for n in range(count)]


def test_migration_14_adds_the_mapping_to_a_version_13_brain(brain_url, raw_engine):
    with open_brain(brain_url, migrate=False) as brain:
        assert brain.migrate(target=13) == list(range(1, 14))
    assert "mlflow_runs" not in inspect(raw_engine).get_table_names()
    with open_brain(brain_url) as brain:
        assert brain.schema_version() >= 14
        assert brain.mlflow_runs(SERVER) == {} and brain.mlflow_model(SERVER, SLOT) is None
    assert {"mlflow_runs", "mlflow_models"} <= set(inspect(raw_engine).get_table_names())


def test_runs_are_kept_per_server_and_recorded_once(brain):
    first, second = _versions(brain)
    brain.record_mlflow_run(SERVER, first, experiment_id="7", run_id="run-a", model_version="1", at=T0)
    # Two exporters finishing the same version at once: the first row stands.
    brain.record_mlflow_run(SERVER, first, experiment_id="7", run_id="run-b", model_version="2")
    brain.record_mlflow_run(OTHER, second, experiment_id="1", run_id="run-c", model_version="1")
    (only,) = brain.mlflow_runs(SERVER).values()
    assert (only.version_id, only.slot_key, only.number, only.run_id, only.model_version,
            only.exported_at) == (first, SLOT, 1, "run-a", "1", T0)
    assert list(brain.mlflow_runs(OTHER, SLOT)) == [second] and brain.mlflow_runs(OTHER, "NOPE:1d:x") == {}
    with pytest.raises(BrainError, match="no model version"):
        brain.record_mlflow_run(SERVER, 9999, experiment_id="7", run_id="x", model_version=None)


def test_a_slots_model_row_follows_the_alias(brain):
    _versions(brain, 1)
    brain.record_mlflow_model(SERVER, SLOT, experiment_id="7", registered_model="huracan.GOOG.1d.fwd_ret_1",
                              champion_number=None, at=T0)
    assert brain.mlflow_model(SERVER, SLOT).champion_number is None
    brain.record_mlflow_model(SERVER, SLOT, experiment_id="7", registered_model="huracan.GOOG.1d.fwd_ret_1",
                              champion_number=1)
    model = brain.mlflow_model(SERVER, SLOT)
    assert (model.experiment_id, model.registered_model, model.champion_number) == (
        "7", "huracan.GOOG.1d.fwd_ret_1", 1)
    assert model.updated_at > T0 and brain.mlflow_model(OTHER, SLOT) is None
