"""The headless process's Prometheus endpoint: a real HTTP server on 127.0.0.1, scraped with urllib
and parsed by prometheus_client's own parser; its numbers are the brain's, on both backends."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.utils import floatToGoString

from brain import open_brain
from scheduler.config import HuracanConfig
from scheduler.daemon.metrics_server import DURATION_BOUNDS, MetricsUnavailable, serve_metrics
from tests.conftest import write_config
from tests.waiting import wait_until

BIN = Path(sys.executable).parent
NOW = datetime.now(UTC).replace(microsecond=0)
GOOG, EURUSD = "GOOG:1d:fwd_ret_1", "EURUSD:1h:fwd_ret_1"


def scrape(url: str) -> dict[str, dict[tuple, float]]:
    """{sample name: {sorted label pairs: value}} of one scrape."""
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def slot_value(samples, name: str, slot: str, **labels) -> float | None:
    return samples.get(name, {}).get(tuple(sorted({"slot": slot, **labels}.items())))


def monitored_brain(url: str, *, queued_job: bool = True) -> None:
    """Two slots made through the brain API, no training: GOOG with a champion measured live, a
    drift check that found drift, an open retrain item and a forecast; EURUSD with none of it.
    Jobs: one succeeded after 90 s, one failed after 2 s, one failed before it ran, one running,
    one queued (unless not `queued_job`: a real leader would run it). A GOOG feed running, its
    newest bar two days old."""
    with open_brain(url) as brain:
        for symbol, timeframe in (("GOOG", "1d"), ("EURUSD", "1h")):
            slot = brain.ensure_slot(symbol, timeframe, "fwd_ret_1", 1)
            brain.add_version(slot.key, model_kind="linear", manifest={"folds": []},
                              artifact=f"artifact {symbol}".encode(), artifact_format="skops",
                              metrics=[{"name": "sharpe", "value": 0.5}],
                              data_start=NOW - timedelta(days=400), data_end=NOW - timedelta(days=30))
        brain.promote_version(GOOG, 1, actor="test", reason="monitoring test")
        version_id = brain.get_version(GOOG, 1).id
        measured = NOW - timedelta(hours=1)
        brain.record_metrics(version_id, [
            {"name": f"live_{name}", "value": value, "ts": measured, "scope": "live"}
            for name, value in (("sharpe", 1.25), ("win_rate", 0.625), ("n", 40.0), ("mae", 3.0),
                                ("mse", 9.0))])
        brain.record_drift_results([{"feature": f"f{i}", "method": "psi", "threshold": 0.1, "drifted": i == 0}
                                    for i in range(3)], slot_key=GOOG)
        brain.enqueue("retrain", GOOG, rule="live_sharpe", reason="test")
        brain.record_predictions([{"slot_key": GOOG, "version_id": version_id,
                                   "ts": NOW - timedelta(days=2), "predicted_at": NOW - timedelta(minutes=10),
                                   "batch": 1.0, "blended": 1.0}])
        brain.store_bars("GOOG", "1d", pl.DataFrame({
            "ts": [NOW - timedelta(days=3), NOW - timedelta(days=2)], "open": [1.0, 1.0], "high": [1.0, 1.0],
            "low": [1.0, 1.0], "close": [1.0, 1.0], "volume": [1.0, 1.0]}))
        brain.record_feed_state("GOOG", "1d", "running")
        _job(brain, "train", started=NOW - timedelta(seconds=100), ended=NOW - timedelta(seconds=10))
        _job(brain, "compare", started=NOW - timedelta(seconds=4), ended=NOW - timedelta(seconds=2),
             failed=True)
        brain.fail_job(brain.create_job("train").id, "refused before it ran")
        running = brain.create_job("train")
        brain.claim_job(running.id, worker="test", pid=os.getpid())  # alive: no leader reaps it
        if queued_job:
            brain.create_job("train")


def _job(brain, kind: str, *, started: datetime, ended: datetime, failed: bool = False) -> None:
    """A finished job with the start and end given (test set-up: written to the jobs table directly)."""
    from sqlalchemy import update

    from brain.schema import jobs

    job = brain.create_job(kind)
    brain.claim_job(job.id, worker="test", pid=os.getpid())
    brain.fail_job(job.id, "boom") if failed else brain.finish_job(job.id, {})
    with brain._write() as connection:
        connection.execute(update(jobs).where(jobs.c.id == job.id)
                           .values(started_at=started, finished_at=ended))


def metrics_config(**settings) -> HuracanConfig:
    return HuracanConfig.model_validate({"metrics": {"enabled": True, "port": 0, **settings}})


def test_metrics_are_what_the_brain_holds(any_brain_url):
    monitored_brain(any_brain_url)
    server = serve_metrics(any_brain_url, metrics_config(), leading=lambda: False, holder="test:1:abc")
    try:
        assert server.address[0] == "127.0.0.1"
        samples = scrape(server.url)
    finally:
        server.close()

    assert samples["huracan_slots"][()] == 2
    assert slot_value(samples, "huracan_slot_live_sharpe", GOOG) == 1.25
    assert slot_value(samples, "huracan_slot_live_hit_rate", GOOG) == 0.625
    assert slot_value(samples, "huracan_slot_live_samples", GOOG) == 40
    assert slot_value(samples, "huracan_slot_drift", GOOG) == 1
    assert slot_value(samples, "huracan_slot_queue_items", GOOG, queue="retrain") == 1
    # NOW is taken when this module is collected: ages grow by the time since (minutes, under xdist).
    since_now = (datetime.now(UTC) - NOW).total_seconds()
    assert 600 <= slot_value(samples, "huracan_slot_last_forecast_age_seconds", GOOG) < 700 + since_now
    # A slot without live numbers, forecasts or drift checks: absent, not zero (its drift flag is 0).
    assert slot_value(samples, "huracan_slot_live_sharpe", EURUSD) is None
    assert slot_value(samples, "huracan_slot_last_forecast_age_seconds", EURUSD) is None
    assert slot_value(samples, "huracan_slot_drift", EURUSD) == 0

    assert samples["huracan_jobs_running"][()] == 1 and samples["huracan_jobs_queued"][()] == 1
    assert samples["huracan_jobs_finished_total"][()] == 3 and samples["huracan_jobs_failed_total"][()] == 2
    train = (("kind", "train"),)
    # The job refused before it ran has no duration.
    assert samples["huracan_job_duration_seconds_count"][train] == 1
    assert samples["huracan_job_duration_seconds_sum"][train] == pytest.approx(90, abs=0.01)
    buckets = {dict(labels)["le"]: value
               for labels, value in samples["huracan_job_duration_seconds_bucket"].items()
               if dict(labels)["kind"] == "train"}
    assert buckets == {**{floatToGoString(bound): float(bound >= 90) for bound in DURATION_BOUNDS}, "+Inf": 1}
    compare = (("kind", "compare"),)
    assert samples["huracan_job_duration_seconds_sum"][compare] == pytest.approx(2, abs=0.01)

    lag = samples["huracan_feed_lag_seconds"][(("feed", "GOOG:1d"),)]
    assert 2 * 86400 <= lag < 2 * 86400 + 600 + since_now
    assert samples["huracan_feed_state"][(("feed", "GOOG:1d"), ("state", "running"))] == 1
    assert samples["huracan_leader"][(("holder", "test:1:abc"),)] == 0  # a standby's view
    assert samples["huracan_leader_alive"][()] == 0


def test_one_read_answers_the_scrapes_of_its_cache_time(empty_brain_url):
    with open_brain(empty_brain_url) as brain:
        server = serve_metrics(empty_brain_url, metrics_config(cache_seconds=3600), leading=lambda: True,
                               holder="h")
        fresh = serve_metrics(empty_brain_url, metrics_config(cache_seconds=0), leading=lambda: True,
                              holder="h")
        try:
            assert scrape(server.url)["huracan_jobs_queued"][()] == 0
            brain.create_job("train")
            assert scrape(server.url)["huracan_jobs_queued"][()] == 0  # the cached page
            assert scrape(fresh.url)["huracan_jobs_queued"][()] == 1
            with pytest.raises(urllib.error.HTTPError) as missing:
                urllib.request.urlopen(server.url.removesuffix("metrics") + "other", timeout=30)
            assert missing.value.code == 404
        finally:
            server.close()
            fresh.close()


def test_scrapes_are_answered_from_a_page_made_in_the_background(empty_brain_url):
    """After the first page, a scrape never reads the brain itself: the page's own thread makes it
    again every cache_seconds, so a scrape's time does not grow with the brain (a whole overview
    read at 1,000 slots is hundreds of ms) and a change shows within cache_seconds."""
    import threading

    with open_brain(empty_brain_url) as brain:
        server = serve_metrics(empty_brain_url, metrics_config(cache_seconds=0.05), leading=lambda: True,
                               holder="h")
        readers: list[str] = []
        read = server.reader.read

        def recording_read():
            readers.append(threading.current_thread().name)
            return read()

        server.reader.read = recording_read
        try:
            assert scrape(server.url)["huracan_jobs_queued"][()] == 0
            brain.create_job("train")
            wait_until(lambda: scrape(server.url)["huracan_jobs_queued"][()] == 1, 30, "the new job")
            assert readers and set(readers[1:]) == {"huracan-metrics-page"}
        finally:
            server.close()


def test_a_port_in_use_is_one_line(empty_brain_url):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(MetricsUnavailable) as refused:
            serve_metrics(empty_brain_url, metrics_config(port=port), leading=lambda: True, holder="h")
    assert str(refused.value) == (f"metrics: port {port} on 127.0.0.1 is already in use; "
                                  f"set metrics.port in the config")
    # Off by default.
    assert serve_metrics(empty_brain_url, HuracanConfig(), leading=lambda: True, holder="h") is None


def _start(brain_url: str, config: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "XDG_STATE_HOME": str(log.parent / "state")}
    with open(log, "wb") as out:
        return subprocess.Popen(
            [str(BIN / "huracan-tui"), "--headless", "--brain", brain_url, "--config", str(config)],
            env=env, stdout=out, stderr=subprocess.STDOUT)


def _served_url(log: Path) -> str:
    found = re.search(r"metrics: serving (http://\S+)", log.read_text())
    return found.group(1) if found else ""


def _stop(process: subprocess.Popen) -> int:
    process.terminate()
    return process.wait(timeout=60)


def test_a_real_leader_and_its_standby_serve_metrics(any_brain_url, tmp_path):
    monitored_brain(any_brain_url, queued_job=False)
    config = write_config(tmp_path / "h.yaml", metrics={"enabled": True, "port": 0})
    leader_log, standby_log = tmp_path / "leader.log", tmp_path / "standby.log"
    leader = _start(any_brain_url, config, leader_log)
    standby = None
    try:
        with open_brain(any_brain_url) as brain:
            holder = wait_until(lambda: (found := brain.current_leader()) and found.holder, 60, "the leader")
        url = wait_until(lambda: _served_url(leader_log), 60, "the leader's endpoint")
        samples = wait_until(lambda: (s := scrape(url))["huracan_leader"] == {(("holder", holder),): 1} and s,
                             30, "the endpoint to say this process leads")
        assert samples["huracan_leader_alive"][()] == 1
        assert slot_value(samples, "huracan_slot_live_samples", GOOG) == 40
        assert samples["huracan_jobs_failed_total"][()] == 2

        standby = _start(any_brain_url, config, standby_log)
        standby_url = wait_until(lambda: _served_url(standby_log), 60, "the standby's endpoint")
        (labels, value), = scrape(standby_url)["huracan_leader"].items()
        assert value == 0 and dict(labels)["holder"] != holder
    finally:
        codes = [_stop(process) for process in (standby, leader) if process is not None]
    assert codes == [0] * len(codes), leader_log.read_text()


def test_a_headless_process_whose_port_is_taken_stops_having_written_nothing(empty_brain_url, tmp_path):
    monitored_brain(empty_brain_url)
    with open_brain(empty_brain_url) as brain:
        audit_before, jobs_before = brain.list_audit(), brain.list_jobs()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path / "h.yaml", metrics={"enabled": True, "port": port})
        done = subprocess.run([str(BIN / "huracan-tui"), "--headless", "--brain", empty_brain_url,
                               "--config", str(config)], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")})
    assert done.returncode == 1
    assert done.stderr == (f"huracan-tui: error: metrics: port {port} on 127.0.0.1 is already in use; "
                           f"set metrics.port in the config\n")
    with open_brain(empty_brain_url) as brain:
        assert brain.list_audit() == audit_before and brain.list_jobs() == jobs_before
        assert brain.current_leader() is None


def test_the_endpoint_runs_in_a_process_of_its_own_that_ends_with_the_headless_one(empty_brain_url, tmp_path):
    # A page at 1,000 slots is tens of ms of Python: made in the leader's process it held the
    # interpreter the live tick needed. The child must still go when the leader is killed -9.
    import psutil

    monitored_brain(empty_brain_url, queued_job=False)
    config = write_config(tmp_path / "h.yaml", metrics={"enabled": True, "port": 0})
    log = tmp_path / "leader.log"
    leader = _start(empty_brain_url, config, log)
    try:
        url = wait_until(lambda: _served_url(log), 60, "the leader's endpoint")
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        with open_brain(empty_brain_url) as brain:
            holder = wait_until(lambda: (found := brain.current_leader()) and found.holder, 60, "the leader")
        wait_until(lambda: scrape(url)["huracan_leader"] == {(("holder", holder),): 1}, 30,
                   "the endpoint to say its headless process leads")
        listeners = {c.pid for c in psutil.net_connections("tcp")
                     if c.status == psutil.CONN_LISTEN and c.laddr.port == port}
        endpoint = psutil.Process(listeners.pop())
        assert endpoint.pid != leader.pid and endpoint.ppid() == leader.pid
        assert "scheduler.daemon.metrics_process" in endpoint.cmdline()
        assert not any(empty_brain_url in part for part in endpoint.cmdline())  # the URL is not shown
    finally:
        leader.kill()
        leader.wait(timeout=30)
    wait_until(lambda: not endpoint.is_running() or endpoint.status() == psutil.STATUS_ZOMBIE, 30,
               "the endpoint's process to end with its leader")
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=5)


def test_the_endpoint_makes_no_page_while_its_leader_ticks(empty_brain_url):
    # A page landing on a live tick slowed it: the headless leader runs each tick inside the
    # endpoint's `ticking`, and a scrape that needs a new page meanwhile waits for the tick's end.
    import threading

    from scheduler.daemon.metrics_process import start_metrics_process

    monitored_brain(empty_brain_url)
    endpoint = start_metrics_process(empty_brain_url, metrics_config(cache_seconds=0), holder="h:1:x")
    try:
        assert slot_value(scrape(endpoint.url), "huracan_slot_live_samples", GOOG) == 40
        answered: list[dict] = []
        with endpoint.ticking():
            scraper = threading.Thread(target=lambda: answered.append(scrape(endpoint.url)), daemon=True)
            scraper.start()
            scraper.join(1.5)  # bounded: what must not happen within it
            assert not answered, "a page was made during the tick"
        scraper.join(30)
        assert answered and slot_value(answered[0], "huracan_slot_live_samples", GOOG) == 40
        endpoint.process.stdin.close()  # the leader's end of the pipe gone: the endpoint stops
        assert endpoint.process.wait(timeout=30) == 0
    finally:
        endpoint.close()
