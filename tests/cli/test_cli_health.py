"""`huracan health` as a monitor runs it: a real process against a real brain whose lease is held
(or not) by a real claim; the exit code is the verdict, the JSON says why."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from brain import open_brain
from huracan_tui.cli.main import run as huracan
from scheduler.daemon.lease import LeaderLease
from tests.cli.test_cli import run


def in_process(capsys, *args: str) -> tuple[int, str, str]:
    """`huracan ARGS` run in this process (the same code as the real one, a second quicker):
    exit code, stdout, stderr."""
    try:
        code = huracan(list(args))
    except SystemExit as stopped:  # how an unhealthy verdict leaves
        code = stopped.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def leading(any_brain_url):
    """The brain with its lease held by this test process (long enough for the checks below)."""
    with open_brain(any_brain_url) as brain:
        lease = LeaderLease(brain, lease_seconds=300)
        assert lease.try_acquire()
        try:
            yield brain, lease
        finally:
            lease.release()


def _bars(brain, symbol: str, timeframe: str, newest: datetime) -> None:
    brain.store_bars(symbol, timeframe, pl.DataFrame({
        "ts": [newest - timedelta(days=1), newest], "open": [1.0, 1.0], "high": [1.0, 1.0],
        "low": [1.0, 1.0], "close": [1.0, 1.0], "volume": [1.0, 1.0]}))


def test_healthy_with_a_leader_alive(leading, any_brain_url, capsys):
    brain, lease = leading
    job = brain.create_job("train")
    brain.fail_job(job.id, "refused")  # reported, never judged
    now = datetime.now(UTC)
    _bars(brain, "GOOG", "1d", now - timedelta(hours=3))
    brain.record_feed_state("GOOG", "1d", "running")
    _bars(brain, "BTCUSD", "1mo", now - timedelta(days=900))
    brain.record_feed_state("BTCUSD", "1mo", "ended")  # a replay played out: old bars are no lag

    done = run("health", "--json", "--brain", any_brain_url, "--max-feed-lag", "4h")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["healthy"] is True and document["problems"] == []
    assert document["leader"]["holder"] == lease.holder_id and document["leader"]["alive"] is True
    assert document["max_feed_lag_s"] == 4 * 3600
    feeds = {feed["feed"]: feed for feed in document["feeds"]}
    assert set(feeds) == {"GOOG:1d", "BTCUSD:1mo"}
    assert feeds["GOOG:1d"]["state"] == "running" and 3 * 3600 <= feeds["GOOG:1d"]["lag_s"] < 4 * 3600
    assert document["last_job"]["kind"] == "train" and document["last_job"]["state"] == "failed"
    assert datetime.fromisoformat(document["last_job"]["ended_at"]) == brain.get_job(job.id).finished_at

    code, shown, _ = in_process(capsys, "health", "--brain", any_brain_url)
    assert code == 0 and shown.startswith("healthy: ")
    assert "feed GOOG:1d: running, newest bar 3h old" in shown and "last job: train failed" in shown


def test_unhealthy_says_why(leading, any_brain_url, tmp_path, capsys):
    brain, _lease = leading
    _bars(brain, "GOOG", "1d", datetime.now(UTC) - timedelta(hours=5))
    brain.record_feed_state("GOOG", "1d", "running")
    brain.record_feed_state("EURUSD", "1h", "failing", "source.csv: no such file")
    config = tmp_path / "h.yaml"
    config.write_text("metrics: {max_feed_lag: 4h}\n", encoding="utf-8")  # the default limit

    code, shown, _ = in_process(capsys, "health", "--json", "--brain", any_brain_url, "--config", str(config))
    assert code == 1
    problems = json.loads(shown)["problems"]
    assert problems[0] == "feed EURUSD:1h is failing: source.csv: no such file"
    assert re.match(r"feed GOOG:1d lags (5h|4h 59m) \(limit 4h\): its newest bar is 20", problems[1])
    assert len(problems) == 2
    # A larger limit on the command line beats the config's.
    code, shown, _ = in_process(capsys, "health", "--json", "--brain", any_brain_url, "--config", str(config),
                                "--max-feed-lag", "21600")
    assert code == 1 and json.loads(shown)["problems"] == [problems[0]]


def test_no_leader_alive_is_unhealthy(any_brain_url, capsys):
    open_brain(any_brain_url).close()
    code, shown, _ = in_process(capsys, "health", "--brain", any_brain_url)
    assert code == 1
    assert "problem: no leader is alive: no `huracan-tui --headless` holds this brain's lease" in shown
    assert "leader: none alive" in shown


def test_the_real_process_exits_1_when_unhealthy(empty_brain_url):
    done = run("health", "--json", "--brain", empty_brain_url)
    assert done.returncode == 1 and done.stderr == ""
    assert json.loads(done.stdout)["healthy"] is False


def test_a_bad_limit_is_one_line_and_writes_nothing(tmp_path, capsys):
    brain_file = tmp_path / "never.db"
    done = run("health", "--brain", f"sqlite:///{brain_file}", "--max-feed-lag", "soon")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == ("huracan: error: --max-feed-lag: not a duration: 'soon' "
                           "(use e.g. 90s, 15m, 24h, 7d)\n")
    for value in ("0", "-5", "nan", "inf"):
        code, shown, error = in_process(capsys, "health", "--brain", f"sqlite:///{brain_file}",
                                        f"--max-feed-lag={value}")
        assert (code, shown) == (2, "")
        assert error == (f"huracan: error: --max-feed-lag must be a finite number of seconds above 0, "
                         f"not {value!r}\n")
    assert not brain_file.exists()
