"""Champions, promotions, rollbacks, the queues and console commands, on both backends."""

from datetime import UTC, datetime, timedelta

import pytest

from brain import BrainError
from brain.records import ChangeMarks

SLOT = "GOOG:1d:fwd_ret_1"
T0 = datetime(2026, 1, 5, 12, tzinfo=UTC)


def _versions(brain, count=3):
    brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
    for number in range(1, count + 1):
        brain.add_version(
            SLOT, model_kind="linear", manifest={"features": ["rsi_14"]}, artifact=f"model {number}".encode(),
            artifact_format="skops", metrics=[{"name": "sharpe", "value": float(number)}],
            data_start=None, data_end=None,
        )


def _compare(brain, champion, challenger, verdicts, ts=None):
    brain.record_comparison([
        {"slot_key": SLOT, "champion_version": champion, "challenger_version": challenger, "test": test,
         "verdict": verdict, "ts": ts}
        for test, verdict in verdicts.items()
    ])


def test_the_first_champion_needs_no_verdict_and_history_answers_what_was_live_when(brain):
    _versions(brain)
    assert brain.champion(SLOT) is None
    first = brain.promote_version(SLOT, 1, actor="alice", reason="first model", at=T0)
    assert (first.version, first.previous_version, first.verdict) == (1, None, "first_champion")
    assert not first.forced
    _compare(brain, 1, 2, {"paired_t": "challenger_better", "wilcoxon": "no_difference"})
    brain.promote_version(SLOT, 2, actor="alice", reason="beats v1", at=T0 + timedelta(days=1))
    assert brain.champion(SLOT).number == 2
    assert brain.champion(SLOT, at=T0 + timedelta(hours=1)).number == 1
    assert brain.champion(SLOT, at=T0 - timedelta(seconds=1)) is None
    assert brain.champions() == {SLOT: 2}
    history = brain.promotion_history(SLOT)
    assert [(p.version, p.previous_version) for p in history] == [(2, 1), (1, None)]
    assert history[0].verdict == "challenger_better"
    assert history[0].metrics == {"v2": {"sharpe": 2.0}, "v1": {"sharpe": 1.0}}
    audit = brain.list_audit(limit=5)
    assert (audit[0].action, audit[0].target, audit[0].actor, audit[0].reason) == ("promote", f"{SLOT} v2",
                                                                                   "alice", "beats v1")


def test_promotion_without_a_passing_verdict_is_refused_unless_forced(brain):
    _versions(brain)
    brain.promote_version(SLOT, 1, actor="alice", reason="first")
    with pytest.raises(BrainError, match="no passing A/B verdict .* v1 \\(no comparison\\)"):
        brain.promote_version(SLOT, 2, actor="alice", reason="looks good")
    _compare(brain, 1, 2, {"paired_t": "challenger_better", "diebold_mariano": "champion_better"})
    with pytest.raises(BrainError, match="latest verdict: mixed"):
        brain.promote_version(SLOT, 2, actor="alice", reason="looks good")
    with pytest.raises(BrainError, match="needs a reason"):
        brain.promote_version(SLOT, 2, actor="alice", reason="  ", force=True)
    forced = brain.promote_version(SLOT, 2, actor="alice", reason="desk override", force=True)
    assert forced.forced and forced.verdict == "mixed"
    assert brain.list_audit(limit=1)[0].outcome == "forced"
    with pytest.raises(BrainError, match="already the champion"):
        brain.promote_version(SLOT, 2, actor="alice", reason="again", force=True)
    with pytest.raises(BrainError, match="has no version 9"):
        brain.promote_version(SLOT, 9, actor="alice", reason="x", force=True)


def test_only_the_newest_comparison_run_counts(brain):
    _versions(brain)
    brain.promote_version(SLOT, 1, actor="alice", reason="first")
    _compare(brain, 1, 2, {"paired_t": "challenger_better"}, ts=T0)
    _compare(brain, 1, 2, {"paired_t": "no_difference"}, ts=T0 + timedelta(hours=1))
    assert brain.promotion_verdict(SLOT, 2)["verdict"] == "no_difference"
    with pytest.raises(BrainError, match="latest verdict: no_difference"):
        brain.promote_version(SLOT, 2, actor="alice", reason="x")


def test_rollback_puts_back_the_previous_champion_and_logs_everything(brain):
    _versions(brain)
    with pytest.raises(BrainError, match="no champion to roll back"):
        brain.rollback(SLOT, actor="bob", reason="x")
    brain.promote_version(SLOT, 1, actor="alice", reason="first")
    with pytest.raises(BrainError, match="no previous champion"):
        brain.rollback(SLOT, actor="bob", reason="x")
    brain.promote_version(SLOT, 3, actor="alice", reason="override", force=True)
    back = brain.rollback(SLOT, actor="bob", reason="live Sharpe fell", origin="10.0.0.7",
                          evidence={"live_sharpe": -1.2})
    assert (back.from_version, back.to_version, back.automatic) == (3, 1, False)
    assert back.evidence["live_sharpe"] == -1.2 and back.evidence["metrics"]["v3"] == {"sharpe": 3.0}
    assert brain.champion(SLOT).number == 1
    assert brain.promotion_history(SLOT)[0].kind == "rollback"
    auto = brain.rollback(SLOT, actor="scheduler", reason="auto", to=2, automatic=True)
    assert (auto.from_version, auto.to_version, auto.automatic) == (1, 2, True)
    assert [r.to_version for r in brain.list_rollbacks(SLOT)] == [2, 1]
    assert brain.list_audit(limit=1)[0].action == "auto_rollback"
    assert brain.promotion_history(SLOT)[0].kind == "auto_rollback"


def test_queue_items_respect_open_duplicates_and_cooldowns(brain):
    _versions(brain)
    first = brain.enqueue("retrain", SLOT, rule="live_sharpe", reason="Sharpe -0.8 < 0 over 50", now=T0,
                          cooldown=timedelta(hours=6), evidence={"sharpe": -0.8})
    assert first.state == "pending" and first.evidence == {"sharpe": -0.8}
    assert brain.enqueue("retrain", SLOT, rule="live_sharpe", reason="again", now=T0 + timedelta(minutes=5),
                         cooldown=timedelta(hours=6)) is None  # still open
    rejected = brain.decide_queue_item(first.id, approve=False, actor="alice", reason="one bad day")
    assert (rejected.state, rejected.decided_by) == ("rejected", "alice")
    assert brain.enqueue("retrain", SLOT, rule="live_sharpe", reason="again", now=T0 + timedelta(hours=1),
                         cooldown=timedelta(hours=6)) is None  # cooling down
    later = brain.enqueue("retrain", SLOT, rule="live_sharpe", reason="again", now=T0 + timedelta(hours=7),
                          cooldown=timedelta(hours=6))
    assert later is not None
    with pytest.raises(BrainError, match="is rejected, not pending"):
        brain.decide_queue_item(first.id, approve=True, actor="alice", reason="changed my mind")
    approved = brain.decide_queue_item(later.id, approve=True, actor="alice", reason="go")
    assert brain.finish_queue_item(approved.id) and brain.get_queue_item(approved.id).state == "done"
    assert [i.id for i in brain.list_queue("retrain", states=["done"])] == [later.id]
    assert brain.list_audit(limit=1)[0].action == "queue.approve"


def test_pruning_retires_a_version_but_never_the_champion(brain):
    _versions(brain)
    brain.promote_version(SLOT, 1, actor="alice", reason="first")
    with pytest.raises(BrainError, match="names the version"):
        brain.enqueue("prune", SLOT, rule="worse", reason="x")
    item = brain.enqueue("prune", SLOT, version=2, rule="worse_than_champion", reason="3 windows worse")
    assert item.version == 2
    with pytest.raises(BrainError, match="is the champion"):
        brain.prune_version(SLOT, 1, actor="alice", reason="x")
    brain.decide_queue_item(item.id, approve=True, actor="alice", reason="ok")
    brain.prune_version(SLOT, 2, actor="alice", reason="ok", item_id=item.id)
    assert brain.get_version(SLOT, 2).status == "pruned"
    assert brain.get_queue_item(item.id).state == "done"
    with pytest.raises(BrainError, match="pruned; it cannot be promoted"):
        brain.promote_version(SLOT, 2, actor="alice", reason="x", force=True)


def test_operator_requests_are_claimed_once_and_finished_with_an_outcome(brain):
    request = brain.submit_request("promote", {"slot": SLOT, "version": 2}, actor="alice", role="operator",
                                   origin="10.0.0.7")
    assert request.state == "pending" and request.args == {"slot": SLOT, "version": 2}
    assert [r.id for r in brain.pending_requests()] == [request.id]
    claimed = brain.claim_request(request.id, handler="leader@host:1")
    assert claimed.state == "running" and claimed.handled_by == "leader@host:1"
    assert brain.claim_request(request.id, handler="other") is None
    brain.finish_request(request.id, state="refused", outcome="viewers cannot promote")
    done = brain.get_request(request.id)
    assert (done.state, done.outcome) == ("refused", "viewers cannot promote")
    assert brain.pending_requests() == []
    with pytest.raises(BrainError, match="one of done, failed, refused"):
        brain.finish_request(request.id, state="weird", outcome="x")


def test_status_shows_each_slots_champion_beside_its_latest_version(brain):
    _versions(brain)
    brain.ensure_slot("EURUSD", "1h", "fwd_ret_1", 1)
    assert [(s.champion, s.latest_version) for s in brain.status()] == [(None, None), (None, 3)]
    brain.promote_version(SLOT, 1, actor="alice", reason="first")
    brain.promote_version(SLOT, 2, actor="alice", reason="override", force=True)
    brain.rollback(SLOT, actor="alice", reason="worse live")
    (_, goog) = brain.status()
    assert (goog.champion, goog.champion_kind, goog.latest_version) == (1, "linear", 3)
    assert goog.champion_metrics == {"sharpe": 1.0} and goog.metrics == {"sharpe": 3.0}


def test_open_queue_counts_and_drift_flags_summarise_each_slot(brain):
    _versions(brain)
    brain.enqueue("retrain", SLOT, rule="live_sharpe", reason="x")
    done = brain.enqueue("prune", SLOT, version=2, rule="worse", reason="x")
    brain.enqueue("prune", SLOT, version=3, rule="worse", reason="x")
    brain.decide_queue_item(done.id, approve=False, actor="alice", reason="keep it")
    assert brain.open_queue_counts() == {SLOT: {"retrain": 1, "prune": 1}}
    checks = ((T0, {"a": 0.5, "b": 0.5}), (T0 + timedelta(hours=1), {"a": 0.3, "b": 0.01}))
    rows = [{"feature": f, "method": "psi", "statistic": s, "threshold": 0.1, "drifted": int(s >= 0.1),
             "ts": ts} for ts, values in checks for f, s in values.items()]
    brain.record_drift_results(rows, slot_key=SLOT)
    flags = brain.drift_flags()
    assert flags[SLOT]["ts"] == T0 + timedelta(hours=1)
    assert (flags[SLOT]["drifted"], flags[SLOT]["features"]) == (1, 2)
    assert brain.drift_flags(method="ks") == {}
    # Scoped to some slots (a scrape after one slot's new forecast reads that slot's only).
    other = brain.ensure_slot("EURUSD", "1h", "fwd_ret_1", 1).key
    brain.enqueue("retrain", other, rule="live_sharpe", reason="x")
    brain.record_drift_results([{**rows[0], "ts": T0}], slot_key=other)
    assert set(brain.drift_flags()) == set(brain.open_queue_counts()) == {SLOT, other}
    assert brain.drift_flags(slot_keys=[other]) == {other: {**brain.drift_flags()[other]}}
    assert brain.open_queue_counts([other]) == {other: {"retrain": 1}}
    assert brain.drift_flags(slot_keys=[]) == brain.open_queue_counts([]) == {}


def test_change_marks_name_their_parts(brain):
    empty = brain.change_marks()
    assert empty == ChangeMarks(None, None, None, None, None, None, None, 0)
    _versions(brain, count=2)
    marks = brain.change_marks()
    assert marks.newest_slot is not None and marks.newest_version is not None
    assert marks.newest_promotion is None and marks.side_parts == empty.side_parts
    item = brain.enqueue("retrain", SLOT, rule="live_sharpe", reason="x")
    brain.decide_queue_item(item.id, approve=True, actor="alice", reason="go")
    later = brain.change_marks()
    assert (later.newest_queue_item, later.open_queue_items) == (item.id, 1)
    assert isinstance(later.newest_queue_decision, datetime)
    assert later.side_parts != marks.side_parts and later[:4] == marks[:4]


def test_change_marks_move_with_everything_the_overview_shows(brain):
    _versions(brain, count=2)
    marks = [brain.change_marks()]
    assert brain.change_marks() == marks[-1]  # nothing changed, nothing moves

    def moved(what) -> None:
        marks.append(brain.change_marks())
        assert marks[-1] != marks[-2], f"{what} left the marks as they were"

    brain.promote_version(SLOT, 1, actor="alice", reason="first")
    moved("a promotion")
    version = brain.get_version(SLOT, 1)
    brain.record_metrics(version.id, [{"name": "live_sharpe", "value": 0.3, "scope": "live"}])
    moved("a live metric")
    brain.record_drift_results([{"feature": "a", "method": "psi", "statistic": 0.2, "threshold": 0.1,
                                 "drifted": 1}], slot_key=SLOT)
    moved("a drift check")
    item = brain.enqueue("retrain", SLOT, rule="live_sharpe", reason="x")
    moved("a queue item")
    brain.decide_queue_item(item.id, approve=True, actor="alice", reason="go")
    moved("a decision")
    brain.finish_queue_item(item.id)
    moved("a finished item")
