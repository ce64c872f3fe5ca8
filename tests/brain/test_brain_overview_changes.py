"""The console's partial overview reads: overview_changes names the slots whose status and live
rows may have changed since a set of change marks, and status / live_summaries / live_history
restricted to some slots equal the whole read restricted to them. Both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 3, 2, tzinfo=UTC)
SYMBOLS = ("AAA", "BBB", "CCC")


def key(symbol: str) -> str:
    return f"{symbol}:1h:fwd_ret_1"


def add_version(brain, symbol: str, sharpe: float):
    brain.ensure_slot(symbol, "1h", "fwd_ret_1", 1)
    return brain.add_version(key(symbol), model_kind="linear", manifest={},
                             artifact=f"{symbol}{sharpe}".encode(), artifact_format="skops",
                             metrics=[{"name": "sharpe", "value": sharpe}],
                             data_start=None, data_end=None)


def live(brain, version, value: float, hour: int) -> None:
    stamp = T0 + timedelta(hours=hour)
    brain.record_metrics(version.id, [{"name": name, "value": value, "scope": "live", "ts": stamp}
                                      for name in ("live_sharpe", "live_mae")])


def three_slots(brain) -> dict[str, object]:
    versions = {symbol: add_version(brain, symbol, 0.1 * index) for index, symbol in enumerate(SYMBOLS)}
    for hour, symbol in enumerate(SYMBOLS[:2]):
        brain.promote_version(key(symbol), 1, actor="alice", reason="first")
        live(brain, versions[symbol], 0.5, hour)
    return versions


def test_overview_changes_names_the_slots_that_moved(brain):
    versions = three_slots(brain)
    marks = brain.change_marks()
    assert brain.overview_changes(marks) == set()
    live(brain, versions["AAA"], 0.7, 5)
    assert brain.overview_changes(marks) == {key("AAA")}
    brain.promote_version(key("CCC"), 1, actor="alice", reason="first")
    assert brain.overview_changes(marks) == {key("AAA"), key("CCC")}
    add_version(brain, "BBB", 0.9)
    assert brain.overview_changes(marks) == {key("AAA"), key("BBB"), key("CCC")}
    later = brain.change_marks()
    assert brain.overview_changes(later) == set()
    brain.ensure_slot("DDD", "1h", "fwd_ret_1", 1)
    assert brain.overview_changes(later) is None, "a new slot needs a whole read"
    assert brain.overview_changes(()) is None, "marks of another shape need a whole read"


def test_reads_restricted_to_slots_equal_the_whole_read_restricted(brain):
    versions = three_slots(brain)
    live(brain, versions["AAA"], 0.9, 7)
    for chosen in ({key("AAA")}, {key("BBB"), key("CCC")}, set(SYMBOLS), set()):
        whole = [row for row in brain.status() if row.slot in chosen]
        assert brain.status(chosen) == whole
        assert brain.live_summaries(chosen) == {
            slot: summary for slot, summary in brain.live_summaries().items() if slot in chosen}
        assert brain.live_history(points=3, slot_keys=chosen) == {
            slot: values for slot, values in brain.live_history(points=3).items() if slot in chosen}
    assert brain.live_history(points=3, slot_keys={key("AAA")}) == {key("AAA"): [0.5, 0.9]}
    assert brain.status({key("CCC")})[0].champion is None
