"""The leader lease through the Brain's public API on both backends: one holder at a time,
renewed by its holder only, given back by release; the policy around it is tested in
tests/scheduler/test_sched_leader.py."""

from __future__ import annotations

from brain import open_brain
from brain.lease import AdvisoryLeaseClaim


def test_one_claim_holds_the_lease_until_it_releases(brain_url):
    with open_brain(brain_url) as first_brain, open_brain(brain_url) as second_brain:
        first = first_brain.lease_claim("host:1:aaaa")
        second = second_brain.lease_claim("host:1:bbbb")
        try:
            assert first_brain.current_leader() is None
            assert not second.renew(30)  # nothing to renew before taking it
            assert first.take(30)
            assert not second.take(30)
            assert first.renew(30) and not second.renew(30)
            leader = second_brain.current_leader()
            assert leader is not None and leader.holder == "host:1:aaaa"
            first.release()
            assert first_brain.current_leader() is None
            assert second.take(30)
            assert not first.take(30)
            assert first_brain.current_leader().holder == "host:1:bbbb"
            second.release()
        finally:
            first.close()
            second.close()


def test_a_postgres_standby_keeps_no_connection_open(postgres_schema_url):
    with open_brain(postgres_schema_url) as brain:
        leader, standby = brain.lease_claim("host:1:aaaa"), brain.lease_claim("host:1:bbbb")
        assert isinstance(standby, AdvisoryLeaseClaim)
        try:
            assert standby.session_pid() is None  # nothing opened before the first try
            assert leader.take(30) and leader.session_pid() is not None
            assert not standby.take(30)
            assert standby.session_pid() is None  # a standby holds no server connection idle
        finally:
            leader.close()
            standby.close()
