"""Fixtures shared across the suite: small training settings and brains seeded with real models
trained on the bundled market data (trained once per session, copied per test)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from scheduler.config import TrainingConfig
from tests.brain.conftest import postgres_schema_url  # noqa: F401  (a fixture, shared)

# Small enough that the suite stays quick on 2 cores; the big runs belong in benchmarks/.
FAST_TRAINING = {
    "models": ["linear", "lightgbm"],
    "n_folds": 3,
    "params": {"lightgbm": {"n_estimators": 40}},
}
SEEDED_SERIES = (("GOOG", "1d"), ("EURUSD", "1h"))
FROZEN_TRAINED_AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="session")
def fast_training() -> TrainingConfig:
    return TrainingConfig.model_validate(FAST_TRAINING)


def write_config(path: Path, **sections) -> Path:
    document = {"training": FAST_TRAINING, **sections}
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


@pytest.fixture
def config_file(tmp_path) -> Path:
    return write_config(tmp_path / "huracan.yaml")


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def freeze_version_times(brain) -> None:
    """Give every version a fixed training time, so screens that show it are reproducible."""
    from sqlalchemy import update

    from brain.schema import model_versions

    with brain._write() as connection:  # test set-up: rewrite history directly
        for offset, (version_id,) in enumerate(
            connection.execute(model_versions.select().with_only_columns(model_versions.c.id)
                               .order_by(model_versions.c.id))
        ):
            connection.execute(
                update(model_versions)
                .where(model_versions.c.id == version_id)
                .values(created_at=FROZEN_TRAINED_AT + timedelta(minutes=offset))
            )


@pytest.fixture(scope="session")
def seeded_brain_template(tmp_path_factory, fast_training) -> Path:
    from brain import open_brain
    from engine.data import load_ohlcv
    from engine.datasets import bundled_path
    from scheduler.services.training import train_slot

    path = tmp_path_factory.mktemp("seeded") / "brain.db"
    with open_brain(sqlite_url(path)) as brain:
        for symbol, timeframe in SEEDED_SERIES:
            brain.store_bars(symbol, timeframe, load_ohlcv(bundled_path(symbol), symbol=symbol))
            train_slot(brain, symbol, timeframe, fast_training)
        freeze_version_times(brain)
    return path


@pytest.fixture
def seeded_brain_url(tmp_path, seeded_brain_template) -> str:
    """A private copy of a brain holding GOOG:1d and EURUSD:1h with two versions each."""
    path = tmp_path / "brain.db"
    shutil.copy(seeded_brain_template, path)
    return sqlite_url(path)


@pytest.fixture
def empty_brain_url(tmp_path) -> str:
    return sqlite_url(tmp_path / "empty.db")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_brain_url(request, tmp_path) -> str:
    """An empty brain on each backend: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "brain.db")
    return request.getfixturevalue("postgres_schema_url")
