"""Stress results: a slot's champion run on synthetic paths from a GAN trained on its bars.

One row per run (`huracan stress`): the version stressed, the paths and seed, the generator used
(its weights an artifact, format `torch_state_dict`; its JSON spec inside the report) and the
report itself. The generator is stored with the row that first used it; `generator_key` names
what it was trained on and how, so a later run on the same bars and settings finds it again
instead of training anew.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select

from brain.errors import BrainError
from brain.part import BrainPart
from brain.schema import artifacts, model_versions, stress_results
from brain.upsert import insert_on_conflict

GENERATOR_FORMAT = "torch_state_dict"


@dataclass(frozen=True)
class StressResultRecord:
    id: int
    slot_key: str
    version_id: int
    created_at: datetime
    paths: int
    seed: int
    generator_sha256: str
    generator_key: str
    report: dict[str, Any]


def _record(row) -> StressResultRecord:
    return StressResultRecord(
        id=row.id, slot_key=row.slot_key, version_id=row.version_id, created_at=row.created_at,
        paths=row.paths, seed=row.seed, generator_sha256=row.generator_sha256,
        generator_key=row.generator_key, report=row.report,
    )


class StressMixin(BrainPart):
    def record_stress_result(
        self, slot_key: str, version_id: int, *, paths: int, seed: int, generator_key: str,
        generator_weights: bytes, report: dict[str, Any], at: datetime | None = None,
    ) -> StressResultRecord:
        """Store one stress run and, where the brain lacks it, its generator's weights, together."""
        now = at or datetime.now(UTC)
        sha256 = hashlib.sha256(generator_weights).hexdigest()
        with self._write() as conn:
            known = select(model_versions.c.id).where(model_versions.c.id == version_id)
            if conn.execute(known).scalar() is None:
                raise BrainError(f"no model version with id {version_id}")
            conn.execute(
                insert_on_conflict(conn, artifacts)
                .values(sha256=sha256, format=GENERATOR_FORMAT, size=len(generator_weights),
                        data=generator_weights, created_at=now)
                .on_conflict_do_nothing(index_elements=["sha256"])
            )
            row_id = conn.execute(
                insert(stress_results).values(
                    slot_key=slot_key, version_id=version_id, created_at=now, paths=int(paths),
                    seed=int(seed), generator_sha256=sha256, generator_key=generator_key, report=report,
                ).returning(stress_results.c.id)
            ).scalar_one()
            row = conn.execute(select(stress_results).where(stress_results.c.id == row_id)).one()
        return _record(row)

    def latest_stress_result(
        self, slot_key: str, *, generator_key: str | None = None
    ) -> StressResultRecord | None:
        """The slot's newest stress run (with `generator_key`: the newest that used that generator)."""
        query = select(stress_results).where(stress_results.c.slot_key == slot_key)
        if generator_key is not None:
            query = query.where(stress_results.c.generator_key == generator_key)
        query = query.order_by(stress_results.c.created_at.desc(), stress_results.c.id.desc()).limit(1)
        with self._read() as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else _record(row)
