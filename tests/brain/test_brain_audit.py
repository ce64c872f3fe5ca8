"""The audit log keeps who, what, when, from where, why and the outcome."""

from datetime import timedelta

from brain.identity import current_actor


def test_audit_entries_are_listed_newest_first(brain):
    actor, origin = current_actor()
    first = brain.audit(
        "version.promote",
        actor=actor,
        origin="203.0.113.5",
        outcome="ok",
        target="GOOG:1d:fwd_ret_1 v3",
        reason="beats champion, p=0.01",
        details={"from": 2, "to": 3},
    )
    second = brain.audit("job.cancel", actor=actor, outcome="refused", reason="viewer role")
    entries = brain.list_audit()
    assert [e.id for e in entries] == [second.id, first.id]
    assert entries[1] == first
    assert entries[1].details == {"from": 2, "to": 3}
    assert entries[1].ts.tzinfo is not None
    assert entries[0].origin is None and entries[0].details is None
    assert origin is None or isinstance(origin, str)

    assert brain.list_audit(since=second.ts) == [second]
    assert brain.list_audit(since=second.ts + timedelta(seconds=1)) == []
    assert len(brain.list_audit(limit=1)) == 1
