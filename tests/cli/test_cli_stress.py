"""`huracan stress`: the champion on GAN paths from the command line, its table and verdict, the
report stored, and bad input refused in one line with nothing written."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from brain import open_brain
from brain.schema import stress_results
from tests.cli.test_cli import run

SLOT = "GOOG:1d:fwd_ret_1"
QUICK = ("--gan-steps", "3", "--bars", "40")


def _stored(url: str) -> int:
    with open_brain(url) as brain, brain._read() as conn:  # test check: rows, whatever the API shows
        return conn.execute(select(func.count()).select_from(stress_results)).scalar_one()


def test_stress_refuses_bad_input_in_one_line_and_writes_nothing(seeded_brain_url):
    cases = [
        (("NOPE:1d:fwd_ret_1", "--paths", "2"), "no slot 'NOPE:1d:fwd_ret_1'"),
        ((SLOT, "--paths", "2"), "has no champion to stress"),
        ((SLOT, "--paths", "0"), "--paths must be at least 1, got 0"),
        ((SLOT, "--paths", "2", "--bars", "5"), "--bars must be more than 20"),
    ]
    for arguments, message in cases:
        result = run("stress", *arguments, "--brain", seeded_brain_url)
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""
    assert _stored(seeded_brain_url) == 0


def test_stress_prints_the_spread_and_the_verdict_and_stores_the_report(seeded_brain_url):
    with open_brain(seeded_brain_url) as brain:
        brain.promote_version(SLOT, 1, actor="test", reason="the champion to stress")
    text = run("stress", SLOT, "--paths", "2", "--seed", "3", *QUICK, "--brain", seeded_brain_url)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith(f"stress {SLOT} v1 linear: 2 paths x 40 bars, seed 3")
    assert "(trained a generator)" in lines[0]
    assert [line.split()[0] for line in lines[2:5]] == ["sharpe", "max_drawdown", "hit_rate"]
    assert any(line.split()[:1] == ["volatility_clustering"] for line in lines)
    assert lines[-1].startswith("  verdict: ")
    verdict = lines[-1].split("verdict: ")[1]
    assert verdict == "passes" or verdict.startswith("fails: ")

    again = run("stress", SLOT, "--paths", "2", "--seed", "3", *QUICK, "--json", "--brain", seeded_brain_url)
    assert again.returncode == 0, again.stderr
    document = json.loads(again.stdout)
    assert document["generator"]["reused"] is True and document["version"] == 1
    assert set(document["sharpe"]) == {"mean", "p5", "p50", "p95", "paths"}
    assert document["verdict"] == document["facts"]["verdict"] == verdict
    with open_brain(seeded_brain_url) as brain:
        newest = brain.latest_stress_result(SLOT)
        assert newest.id == document["id"] and newest.report["sharpe"] == document["sharpe"]
    assert _stored(seeded_brain_url) == 2
