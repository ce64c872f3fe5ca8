"""Issue 18, item 3: alerts to webhooks and commands, one per change of state, retried with backoff
until delivered or undeliverable; a real HTTP server on 127.0.0.1, real commands, both backends."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from brain import open_brain
from scheduler.config import ConfigError, HuracanConfig, load_config
from scheduler.daemon.executor import LocalExecutor
from scheduler.daemon.headless import Leader
from scheduler.services.alerts import detect_alerts, run_alerts
from tests.cli.test_cli import run as run_cli
from tests.waiting import wait_until

GOOG = "GOOG:1d:fwd_ret_1"
# Tiny backoff: a retry is due 10-40 ms after a failed attempt.
FAST = {"retries": 5, "backoff": {"base": 0.01, "factor": 2, "max": 0.04}, "timeout": 5}


class Hook:
    """A webhook receiver on 127.0.0.1 that answers 500 to its first `fail_first` requests (every
    one, with None), then 200; it keeps each request's time and JSON body."""

    def __init__(self, fail_first: int | None) -> None:
        self.fail_first = fail_first
        self.requests: list[tuple[datetime, dict, dict]] = []  # (when, headers, body)
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.requests.append((datetime.now(UTC), dict(self.headers), body))
                failing = hook.fail_first is None or len(hook.requests) <= hook.fail_first
                self.send_response(500 if failing else 200)
                self.end_headers()

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/huracan?token=s3cret"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook_factory() -> Iterator:
    hooks: list[Hook] = []

    def make(fail_first: int | None = 0) -> Hook:
        hooks.append(Hook(fail_first))
        return hooks[-1]

    yield make
    for hook in hooks:
        hook.close()


def alerts_config(*sinks: dict, **settings) -> HuracanConfig:
    return HuracanConfig.model_validate({"alerts": {**FAST, **settings, "sinks": list(sinks)}})


def drift(brain, drifted: bool, at: datetime) -> None:
    """A PSI check of the slot: one feature of two drifted, or none."""
    brain.record_drift_results([
        {"feature": "ret_1", "method": "psi", "threshold": 0.2, "drifted": drifted, "statistic": 0.5},
        {"feature": "vol_20", "method": "psi", "threshold": 0.2, "drifted": False, "statistic": 0.01},
    ], slot_key=GOOG, ts=at)


def failed_job(brain) -> int:
    job = brain.create_job("train", slot_key=GOOG)
    assert brain.claim_job(job.id, worker="test:1", pid=1)
    assert brain.fail_job(job.id, "ValueError: no bars for GOOG 1d\nTraceback ...")
    return job.id


def two_versions(brain) -> None:
    """A slot whose champion is v2, promoted over v1 (forced: no A/B verdict needed here)."""
    slot = brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
    for _ in range(2):
        brain.add_version(slot.key, model_kind="linear", manifest={"features": []}, artifact=b"x",
                          artifact_format="skops", metrics=[], data_start=None, data_end=None)
    for number in (1, 2):
        brain.promote_version(slot.key, number, actor="alice", reason="first champion", force=True)


def deliver_until(brain, config, what: str, done) -> None:
    """The schedule entry's runs, as the leader makes them, until `done()` holds."""
    wait_until(lambda: (run_alerts(brain, config), done())[1], timeout=20, what=what)


def test_a_webhook_failing_at_first_gets_the_alert_once_after_backoff(any_brain_url, hook_factory):
    hook = hook_factory(fail_first=2)
    config = alerts_config({"webhook": hook.url, "headers": {"Authorization": "Bearer t0ken"}})
    with open_brain(any_brain_url) as brain:
        job_id = failed_job(brain)
        deliver_until(brain, config, "the alert delivered",
                      lambda: brain.list_alerts() and brain.list_alerts()[0].state == "delivered")
        for _ in range(3):  # later runs send nothing more
            run_alerts(brain, config)
        (alert,) = brain.list_alerts()
        (delivery,) = alert.deliveries
    assert len(hook.requests) == 3 and delivery.attempts == 3 and delivery.state == "delivered"
    # Each retry waited at least its backoff: 10 ms, then 20 ms.
    (first, _, _), (second, _, _), (third, headers, document) = hook.requests
    assert second - first >= timedelta(seconds=0.01) and third - second >= timedelta(seconds=0.02)
    assert [body for _, _, body in hook.requests] == [document] * 3  # the same document each time
    assert headers["Authorization"] == "Bearer t0ken" and headers["Content-Type"] == "application/json"
    assert {key: document[key] for key in ("source", "id", "kind", "subject", "condition")} == {
        "source": "huracan", "id": alert.id, "kind": "job_failed", "subject": f"job {job_id}",
        "condition": "failed"}
    assert document["message"] == f"job {job_id} (train {GOOG}) failed: ValueError: no bars for GOOG 1d"
    assert document["details"]["job"] == job_id and document["details"]["slot"] == GOOG
    assert datetime.fromisoformat(document["created_at"]) == alert.created_at


def test_an_always_failing_webhook_leaves_the_alert_undeliverable_and_listed(tmp_path, hook_factory):
    hook = hook_factory(fail_first=None)
    url = f"sqlite:///{tmp_path / 'brain.db'}"
    config = alerts_config({"webhook": hook.url, "name": "ops"}, retries=2)
    with open_brain(url) as brain:
        failed_job(brain)
        deliver_until(brain, config, "the alert undeliverable",
                      lambda: brain.alerts_summary().undeliverable == 1)
        run_alerts(brain, config)
        assert len(hook.requests) == 3  # the first attempt and 2 retries, then no more
        (alert,) = brain.list_alerts(undeliverable=True)
    (delivery,) = alert.deliveries
    assert (delivery.state, delivery.attempts) == ("undeliverable", 3)
    # The error names the host, never the path or query (a webhook's secret often lives there).
    assert delivery.last_error == "127.0.0.1 answered HTTP 500 Internal Server Error"

    listed = run_cli("alerts", "--undeliverable", "--json", "--brain", url)
    assert listed.returncode == 0, listed.stderr
    (shown,) = json.loads(listed.stdout)["alerts"]
    assert (shown["id"], shown["state"], shown["kind"]) == (alert.id, "undeliverable", "job_failed")
    assert shown["deliveries"][0]["last_error"] == delivery.last_error
    text = run_cli("alerts", "--brain", url).stdout
    assert "undeliverable" in text and "ops: undeliverable: 127.0.0.1 answered HTTP 500" in text
    assert "s3cret" not in listed.stdout + text


def test_a_command_sink_gets_the_document_on_stdin_and_a_failing_one_says_why(tmp_path, any_brain_url):
    received = tmp_path / "received.json"
    copy_stdin = "import sys, pathlib; pathlib.Path(sys.argv[1]).write_bytes(sys.stdin.buffer.read())"
    writer = [sys.executable, "-c", copy_stdin, str(received)]
    failing = [sys.executable, "-c", "import sys; sys.stderr.write('pager down\\n'); sys.exit(3)"]
    config = alerts_config({"command": writer, "name": "writer"},
                           {"command": failing, "name": "pager", "events": ["drift"]}, retries=0)
    with open_brain(any_brain_url) as brain:
        drift(brain, True, datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
        run_alerts(brain, config)
        (alert,) = brain.list_alerts()
    document = json.loads(received.read_text())
    assert (document["kind"], document["subject"], document["condition"]) == ("drift", GOOG, "on")
    assert document["message"] == f"{GOOG}: drift detected, 1 of 2 features drifted (PSI)"
    assert document["details"]["drifted"] == 1 and "password" not in document["brain"]
    by_sink = {delivery.sink: delivery for delivery in alert.deliveries}
    assert by_sink["writer"].state == "delivered"
    assert (by_sink["pager"].state, by_sink["pager"].last_error) == (
        "undeliverable", f"{sys.executable} exited with code 3: pager down")


def test_one_alert_per_change_of_a_drift_flag_whoever_leads(any_brain_url, hook_factory):
    hook = hook_factory()
    config = alerts_config({"webhook": hook.url, "events": ["drift"]})
    t0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    with open_brain(any_brain_url) as brain:
        drift(brain, True, t0)
        for minute in range(1, 4):  # passes that find the flag still on, after new checks too
            detect_alerts(brain, config.alerts)
            drift(brain, True, t0 + timedelta(minutes=minute))
    with open_brain(any_brain_url) as successor:  # the next leader: nothing of the first one's memory
        assert detect_alerts(successor, config.alerts) == []
        drift(successor, False, t0 + timedelta(minutes=10))
        detect_alerts(successor, config.alerts)
        detect_alerts(successor, config.alerts)
        drift(successor, True, t0 + timedelta(minutes=20))
        detect_alerts(successor, config.alerts)
        deliver_until(successor, config, "three deliveries", lambda: len(hook.requests) == 3)
        alerts = successor.list_alerts()
    assert [(a.kind, a.condition) for a in reversed(alerts)] == [
        ("drift", "on"), ("drift", "resolved"), ("drift", "on")]
    assert [body["condition"] for _, _, body in hook.requests] == ["on", "resolved", "on"]


def test_a_failed_job_a_stale_feed_and_a_new_leader_are_one_alert_each(any_brain_url, hook_factory):
    hook = hook_factory()
    config = alerts_config({"webhook": hook.url, "events": ["job_failed", "feed_stale", "leader_change"]})
    with open_brain(any_brain_url) as brain:
        job_id = failed_job(brain)
        brain.record_feed_state("GOOG", "1d", "failing", "cannot read goog.csv: no such file")
        leader = brain.lease_claim("host-a:11:aaaa")
        assert leader.take(30)
        for _ in range(3):
            detect_alerts(brain, config.alerts)
        kinds = sorted((a.kind, a.subject, a.condition) for a in brain.list_alerts())
        assert kinds == [("feed_stale", "GOOG 1d", "failing"), ("job_failed", f"job {job_id}", "failed"),
                         ("leader_change", "leader", "host-a:11:aaaa")]
        brain.record_feed_state("GOOG", "1d", "running")
        leader.release()
        successor = brain.lease_claim("host-b:22:bbbb")
        assert successor.take(30)
        detect_alerts(brain, config.alerts)
        detect_alerts(brain, config.alerts)
        newest = [(a.kind, a.condition, a.message) for a in brain.list_alerts()[:2]]
        successor.release()
        leader.close()
        successor.close()
    assert sorted(newest) == [("feed_stale", "resolved", "feed GOOG 1d runs again"),
                              ("leader_change", "host-b:22:bbbb",
                               f"{socket.gethostname()}:{os.getpid()} leads the brain now")]


def test_rollbacks_are_told_once_and_old_history_never(any_brain_url, hook_factory):
    hook = hook_factory()
    config = alerts_config({"webhook": hook.url, "events": ["rollback"]})
    with open_brain(any_brain_url) as brain:
        two_versions(brain)
        brain.rollback(GOOG, actor="alice", reason="v2 loses money live")
        for _ in range(2):
            detect_alerts(brain, config.alerts)
        (alert,) = brain.list_alerts()
        assert (alert.kind, alert.condition) == ("rollback", "manual")
        assert alert.message == f"{GOOG}: manual rollback v2 → v1 by alice: v2 loses money live"
        later = datetime.now(UTC) + timedelta(days=2)  # past alerts.lookback: not told (again)
        assert detect_alerts(brain, config.alerts, now=later) == []


def test_the_leader_runs_alerts_only_with_sinks(any_brain_url, hook_factory):
    hook = hook_factory()
    with open_brain(any_brain_url) as brain:
        plain = Leader(brain, HuracanConfig(), LocalExecutor(any_brain_url), feeds=[])
        assert "alerts" not in {entry.name for entry in plain.schedule_entries()}
        config = alerts_config({"webhook": hook.url})
        leader = Leader(brain, config, LocalExecutor(any_brain_url), feeds=[])
        (entry,) = [entry for entry in leader.schedule_entries() if entry.name == "alerts"]
        assert entry.every == 10.0 and entry.at_start
        failed_job(brain)
        report = entry.run()  # detected, then delivered in the same run
        assert (report.detected, report.delivered) == (1, 1)
        assert [body["kind"] for _, _, body in hook.requests] == ["job_failed"]


@pytest.mark.parametrize(("sink", "expected"), [
    ("{webhook: 'ftp://x'}", "alerts.sinks[0].webhook: must be an http:// or https:// URL, not ftp://…"),
    ("{command: []}", "alerts.sinks[0].command: an argv list: the program, then its arguments, none empty"),
    ("{webhook: 'https://h/x', command: [a]}", "alerts.sinks[0]: webhook: a sink is exactly one of"),
    ("{webhook: 'https://h/x', events: [drift, weather]}", "alerts.sinks[0].events[1]: Input should be"),
])
def test_a_bad_sink_is_one_config_line_naming_its_key(tmp_path, sink, expected):
    path = tmp_path / "huracan.yaml"
    path.write_text(f"alerts:\n  sinks:\n    - {sink}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: {expected}") and "\n" not in str(caught.value)


def test_huracan_alerts_with_a_non_http_webhook_is_one_line_and_exit_2(tmp_path):
    path = tmp_path / "huracan.yaml"
    path.write_text("alerts:\n  sinks:\n    - webhook: ftp://x\n")
    done = run_cli("alerts", "--config", str(path), "--brain", f"sqlite:///{tmp_path / 'b.db'}")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        f"huracan: error: {path}: alerts.sinks[0].webhook: must be an http:// or https:// URL, not ftp://…"]
    assert not (tmp_path / "b.db").exists()  # nothing written


def test_a_webhook_that_does_not_answer_is_a_failed_attempt_within_the_timeout(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    config = alerts_config({"webhook": url}, retries=0, timeout=0.3)
    try:
        with open_brain(f"sqlite:///{tmp_path / 'brain.db'}") as brain:
            failed_job(brain)
            run_alerts(brain, config)
            (alert,) = brain.list_alerts()
    finally:
        listener.close()
    assert alert.deliveries[0].last_error == "127.0.0.1 did not answer within 0.3s"


def test_a_command_that_hangs_is_killed_at_the_timeout(tmp_path):
    config = alerts_config({"command": [sys.executable, "-c", "import time; time.sleep(60)"]},
                           retries=0, timeout=0.5)
    with open_brain(f"sqlite:///{tmp_path / 'brain.db'}") as brain:
        failed_job(brain)
        run_alerts(brain, config)
        (alert,) = brain.list_alerts()
    assert alert.deliveries[0].last_error == f"{sys.executable} did not finish within 0.5s (killed)"


def test_a_poll_feed_without_a_new_bar_for_too_long_is_stale_until_one_comes(any_brain_url):
    import polars as pl

    def bar(ts: datetime) -> pl.DataFrame:
        return pl.DataFrame({"ts": [ts], "open": [1.0], "high": [1.0], "low": [1.0], "close": [1.0],
                             "volume": [1.0]})

    config = HuracanConfig.model_validate({
        "alerts": {**FAST, "feed_silence": "1h", "sinks": [{"command": ["true"], "events": ["feed_stale"]}]},
        "live": {"feeds": [{"kind": "poll", "symbol": "EURUSD", "timeframe": "1h", "path": "eurusd.csv"}]}})
    now = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    with open_brain(any_brain_url) as brain:
        brain.store_bars("EURUSD", "1h", bar(now - timedelta(hours=3)))
        for _ in range(2):
            detect_alerts(brain, config.alerts, live_feeds=config.live.feeds, now=now)
        (stale,) = brain.list_alerts()
        assert (stale.subject, stale.condition) == ("EURUSD 1h", "stale")
        assert stale.message == ("feed EURUSD 1h stale: no bar for more than 3600s "
                                 "(newest 2026-01-05 09:00 UTC)")
        brain.store_bars("EURUSD", "1h", bar(now - timedelta(minutes=10)))
        detect_alerts(brain, config.alerts, live_feeds=config.live.feeds, now=now)
        newest = brain.list_alerts()[0]
        assert (newest.condition, newest.message) == ("resolved", "feed EURUSD 1h runs again")


def test_a_headless_leader_sends_and_its_successor_does_not_resend(tmp_path, hook_factory):
    from tests.conftest import write_config
    from tests.scheduler.test_headless import start_headless

    hook = hook_factory()
    url = f"sqlite:///{tmp_path / 'brain.db'}"
    config = write_config(tmp_path / "h.yaml", schedule={"alerts_every": "1s"}, alerts={
        **FAST, "sinks": [{"webhook": hook.url, "events": ["job_failed", "leader_change"]}]})
    with open_brain(url) as brain:
        job_id = failed_job(brain)

    def told() -> list[tuple[str, str]]:
        return [(body["kind"], body["subject"]) for _, _, body in hook.requests]

    for leader_number in (1, 2):
        leader = start_headless(url, config, tmp_path)
        try:
            wait_until(lambda n=leader_number: told().count(("leader_change", "leader")) == n, 60,
                       f"leader {leader_number}'s alert")
        finally:
            leader.send_signal(signal.SIGTERM)
            output, _ = leader.communicate(timeout=60)
        assert leader.returncode == 0 and "Traceback" not in output, output
    # The failed job was told once, by the first leader; each leader's start once.
    assert sorted(told()) == [("job_failed", f"job {job_id}"), ("leader_change", "leader"),
                              ("leader_change", "leader")]
    first, second = [body["condition"] for _, _, body in hook.requests if body["kind"] == "leader_change"]
    assert first != second  # each names its own holder of the lease
