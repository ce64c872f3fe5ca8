"""A short soak on each backend (benchmarks/soak.py runs the long one): real headless leaders
killed with SIGKILL at random moments leave a consistent brain and lose no job, and four CLI
operators racing each other never lose or misreport a request, nor see "database is locked"."""

from __future__ import annotations

from datetime import UTC, datetime

from benchmarks.soak import Answer, ConcurrencyReport, judge_answer, run_concurrency, run_kill_soak
from brain import RequestRecord

KILLS = 3
CONCURRENCY_SECONDS = 12.0
SEED = 20260105  # reproducible kill targets and moments; the soak script draws fresh ones


def test_random_kills_leave_a_consistent_brain_and_every_job_final(any_brain_url, tmp_path):
    report = run_kill_soak(any_brain_url, tmp_path / "kills", kills=KILLS, seed=SEED, max_wait=2.0)
    summary = "\n".join(report.lines())
    assert sum(report.kills.values()) == KILLS, summary
    assert report.checks == 2 * KILLS + 1, summary  # after each kill, after each reap, at the end
    assert report.inconsistencies == [], summary
    assert not report.failures, summary
    assert report.jobs_succeeded >= report.jobs_queued, summary  # killed jobs ran again to the end


def test_concurrent_operators_never_lose_or_misreport_a_request(any_brain_url, tmp_path):
    report = run_concurrency(any_brain_url, tmp_path / "concurrency", seconds=CONCURRENCY_SECONDS,
                             seed=SEED)
    summary = "\n".join(report.lines())
    assert sum(report.requests.values()) >= 4 and report.reads >= 2, summary  # it did race
    assert report.lost_writes == [], summary
    assert report.misreports == [], summary
    assert not report.failures, summary  # "database is locked", tracebacks, crashed commands


def _row(state: str, outcome: str) -> RequestRecord:
    return RequestRecord(id=7, ts=datetime.now(UTC), actor="ann", origin=None, role="operator",
                         action="promote", args={"reason": "r"}, state=state, outcome=outcome, result=None,
                         handled_by="leader", handled_at=None)


def test_the_judge_tells_lost_writes_and_misreports_from_honest_answers():
    """The soak is only as good as its judge: each kind of disagreement is caught, agreement is not."""
    said_failed = "huracan: error: promote failed: no verdict\n"
    failed = Answer("promote", "r", ("promote", "S", "2"), 1, "", said_failed)
    done = Answer("promote", "r", ("promote", "S", "2"), 0, '{"request": 7}', "")
    cases = {
        "honest": (failed, _row("failed", "no verdict")),
        "lost: said failed, brain did it": (failed, _row("done", "v2 is the champion")),
        "misreport: other outcome": (failed, _row("failed", "pruned")),
        "lost: said done, no row": (done, None),
    }
    reports = {}
    for name, (answer, row) in cases.items():
        reports[name] = ConcurrencyReport("test")
        judge_answer(reports[name], None, answer, row)
    assert reports["honest"].clean
    assert len(reports["lost: said failed, brain did it"].lost_writes) == 1
    assert len(reports["misreport: other outcome"].misreports) == 1
    assert len(reports["lost: said done, no row"].lost_writes) == 1
