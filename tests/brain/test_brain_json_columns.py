"""JSON columns store NaN and infinities as null, whoever writes them: JSON has no such numbers,
and PostgreSQL's parsers refuse them. One type (brain.column_types.JSONText) does it, on both
backends."""

from __future__ import annotations

import math

from brain.column_types import stored_json


def test_json_columns_store_nan_and_infinities_as_null(brain):
    details = {"p": math.nan, "ci": (1.0, -math.inf), 3: [math.inf, {"deep": math.nan}]}
    brain.audit("test.nan", actor="alice", outcome="ok", details=details)
    [stored] = brain.list_audit()
    assert stored.details == {"p": None, "ci": [1.0, None], "3": [None, {"deep": None}]}
    assert stored_json(details) == stored.details  # what a caller may compare with before storing
    job = brain.create_job("train", params={"alpha": math.inf})
    assert brain.get_job(job.id).params == {"alpha": None}


def test_a_job_event_hands_back_what_it_stored(brain):
    job = brain.create_job("train")
    event = brain.record_job_event(job.id, 1, {"loss": math.nan, "val_loss": 0.5, "fold": (0, 1)})
    assert event.values == {"loss": None, "val_loss": 0.5, "fold": [0, 1]}
    assert brain.job_events(job.id)[0].values == event.values
