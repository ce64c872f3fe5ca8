"""Exactly one leader per brain: the lease on both backends, and real `huracan-tui --headless`
processes where the standby takes over when the leader is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from brain import open_brain
from scheduler.daemon.lease import LeaderLease
from tests.conftest import write_config
from tests.waiting import wait_until

BIN = Path(sys.executable).parent


def test_only_one_of_two_leases_acquires_and_release_hands_over(any_brain_url):
    with open_brain(any_brain_url) as first_brain, open_brain(any_brain_url) as second_brain:
        first, second = LeaderLease(first_brain), LeaderLease(second_brain)
        assert first_brain.current_leader() is None
        assert first.try_acquire()
        assert not second.try_acquire()
        assert first.renew() and first.is_valid() and not second.is_valid()
        leader = second.holder()
        assert leader is not None and leader.holder == first.holder_id
        assert leader.label == f"{leader.host}:{os.getpid()}"
        assert not second.try_acquire()  # still taken, however often one asks
        first.release()
        assert first_brain.current_leader() is None
        assert second.try_acquire()
        assert not first.try_acquire()
        assert first_brain.current_leader().holder == second.holder_id
        second.release()


def test_an_expired_sqlite_lease_is_no_leader_and_can_be_taken(tmp_path):
    with open_brain(f"sqlite:///{tmp_path / 'brain.db'}") as brain:
        short = LeaderLease(brain, lease_seconds=0.2)
        assert short.try_acquire()
        wait_until(lambda: brain.current_leader() is None, 5, "the lease to expire")
        assert not short.is_valid()  # the holder itself stops acting past its expiry
        other = LeaderLease(brain)
        assert other.try_acquire()
        assert not short.renew() and not short.held  # it learns it lost the lead
        other.release()


def test_a_postgres_lease_dies_with_its_connection(postgres_schema_url):
    with open_brain(postgres_schema_url) as brain:
        first, second = LeaderLease(brain), LeaderLease(brain)
        assert first.try_acquire()
        # The server ends the leader's session, as when its process dies or the server restarts.
        backend_pid = first._claim.session_pid()
        with brain._write() as conn:
            conn.exec_driver_sql(f"SELECT pg_terminate_backend({backend_pid})")
        # pg_terminate_backend only signals: the session ends, and its lock goes, a moment later.
        wait_until(lambda: brain.current_leader() is None, 10, "the killed session's lock to go")
        assert second.try_acquire()
        assert not first.renew()
        second.release()


def _start_headless(brain_url: str, config: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "XDG_STATE_HOME": str(log.parent / "state")}
    with open(log, "wb") as out:
        return subprocess.Popen(
            [str(BIN / "huracan-tui"), "--headless", "--brain", brain_url, "--config", str(config)],
            env=env, stdout=out, stderr=subprocess.STDOUT)


def test_standby_takes_over_when_the_leader_is_killed(any_brain_url, tmp_path):
    brain_url = any_brain_url
    config = write_config(tmp_path / "h.yaml", schedule={"retrain_every": "1h", "dispatch_every": "1s"})
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    brain = open_brain(brain_url)
    first = _start_headless(brain_url, config, first_log)
    second = None
    try:
        wait_until(lambda: (leader := brain.current_leader()) and leader.pid == first.pid, 30,
                   "the first instance to lead")
        second = _start_headless(brain_url, config, second_log)
        wait_until(lambda: "standby:" in second_log.read_text(), 30, "the second to stand by")
        assert f":{first.pid} (" in second_log.read_text()  # it says who leads
        assert brain.current_leader().pid == first.pid
        # A standby acts in nothing: one takeover audited so far, the first's.
        assert [a.action for a in brain.list_audit()].count("headless.leader") == 1

        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = time.monotonic()
        wait_until(lambda: (leader := brain.current_leader()) and leader.pid == second.pid, 15,
                   "the standby to take over")
        took = time.monotonic() - killed_at
        assert took < 10, took
        leads = wait_until(lambda: (found := [a for a in brain.list_audit() if a.action == "headless.leader"])
                           and len(found) == 2 and found, 10, "the takeover's audit entry")
        assert leads[0].target.split(":")[1] == str(second.pid)
        assert "leader of" in second_log.read_text()
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)
        brain.close()
    assert second.returncode == 0, second_log.read_text()
    assert "Traceback" not in second_log.read_text()
