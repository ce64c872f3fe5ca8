"""`huracan promote / rollback / history / audit / queue / prune` as a user runs them: real
processes on real brains (both backends). Actions go through the console's path (operator
requests), so the role is checked and every attempt, refused or failed ones included, lands in the
audit log."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from brain import open_brain
from huracan_tui.cli.lifecycle import carry_out
from scheduler.config import HuracanConfig
from tests.cli.test_cli import run
from tests.conftest import write_config
from tests.grants import grant_quietly
from tests.scheduler.test_sched_requests import ClaimRace

SLOT = "GOOG:1d:fwd_ret_1"
# The actor is the OS user and the SSH client: pin both, as an operator logged in over SSH.
ALICE = {"USER": "alice", "LOGNAME": "alice", "SSH_CONNECTION": "10.0.0.7 50022 10.0.0.1 22"}


def seed_versions(url: str, count: int = 3) -> None:
    with open_brain(url) as brain:
        brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
        for number in range(1, count + 1):
            brain.add_version(
                SLOT, model_kind="linear", manifest={"features": ["rsi_14"]},
                artifact=f"model {number}".encode(), artifact_format="skops",
                metrics=[{"name": "sharpe", "value": float(number)}],
                data_start=None, data_end=None,
            )
        grant_quietly(brain, "alice", "bob")  # the owner (who made the brain) made them operators


def huracan(url: str, config, *args: str, env: dict | None = None):
    return run(*args, "--brain", url, "--config", str(config), env={**ALICE, **(env or {})})


@pytest.fixture
def brain_with_versions(any_brain_url):
    seed_versions(any_brain_url)
    return any_brain_url


def test_promote_force_rollback_history_and_audit(brain_with_versions, config_file):
    url = brain_with_versions
    first = huracan(url, config_file, "promote", SLOT, "1", "--reason", "first model", "--json")
    assert first.returncode == 0, first.stderr
    document = json.loads(first.stdout)
    assert document["state"] == "done" and document["actor"] == "alice" and document["origin"] == "10.0.0.7"
    assert document["request"] == document["command"]  # "command": the key older scripts read
    assert document["promotion"]["verdict"] == "first_champion" and not document["promotion"]["forced"]

    refused = huracan(url, config_file, "promote", SLOT, "2", "--reason", "looks better")
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert "no passing A/B verdict" in refused.stderr and "(no comparison)" in refused.stderr

    forced = huracan(url, config_file, "promote", SLOT, "2", "--reason", "desk override", "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["promotion"]["forced"] is True
    assert "(forced)" in json.loads(forced.stdout)["outcome"]

    back = huracan(url, config_file, "rollback", SLOT, "--reason", "live Sharpe fell", "--json")
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["outcome"] == f"{SLOT}: rolled back v2 → v1"
    to_three = huracan(url, config_file, "rollback", SLOT, "--to", "3", "--reason", "try v3")
    assert to_three.returncode == 0 and to_three.stdout.strip() == f"{SLOT}: rolled back v1 → v3"

    history = json.loads(huracan(url, config_file, "history", SLOT, "--json").stdout)
    assert history["champion"] == 3
    timeline = [(row["kind"], row["version"], row["previous_version"], row["forced"])
                for row in history["history"]]
    assert timeline == [("rollback", 3, 1, False), ("rollback", 1, 2, False), ("promote", 2, 1, True),
                        ("promote", 1, None, False)]
    # What was live when v2 was forced in (its own moment), and before anything was promoted.
    forced_at = history["history"][2]["ts"]
    live = json.loads(huracan(url, config_file, "history", SLOT, "--at", forced_at, "--json").stdout)
    assert live["live"]["version"] == 2
    before = huracan(url, config_file, "history", SLOT, "--at", "2001-01-01T00:00:00Z")
    assert before.returncode == 0 and "no champion yet" in before.stdout
    text = huracan(url, config_file, "history", SLOT)
    assert "FORCED" in text.stdout and "desk override" in text.stdout

    audit = json.loads(huracan(url, config_file, "audit", "--limit", "5", "--json").stdout)["entries"]
    assert [(e["action"], e["outcome"]) for e in audit] == [
        ("rollback", "ok"), ("rollback", "ok"), ("promote", "forced"),
        ("promote", f"failed: {SLOT} v2 has no passing A/B verdict against champion v1 (no comparison); "
                    "compare them first or force it with a reason"),
        ("promote", "ok"),
    ]
    assert {(e["actor"], e["origin"]) for e in audit} == {("alice", "10.0.0.7")}
    assert audit[2]["reason"] == "desk override" and audit[2]["details"]["forced"] is True
    since = json.loads(huracan(url, config_file, "audit", "--since", "1h", "--json").stdout)["entries"]
    assert since[:5] == audit and len(since) == 8  # and the three versions' registrations
    future = huracan(url, config_file, "audit", "--since", "2999-01-01", "--json")
    assert json.loads(future.stdout)["entries"] == []
    with open_brain(url) as brain:
        assert brain.champion(SLOT).number == 3
        assert [r.to_version for r in brain.list_rollbacks(SLOT)] == [3, 1]
        handled = brain.list_requests()
        assert [c.state for c in handled] == ["done", "done", "done", "failed", "done"]
        assert all(c.handled_by.startswith("cli ") for c in handled)


def test_queue_list_approve_reject_and_prune(brain_with_versions, config_file):
    url = brain_with_versions
    with open_brain(url) as brain:
        brain.promote_version(SLOT, 1, actor="alice", reason="first")
        retrain = brain.enqueue("retrain", SLOT, rule="live_sharpe", reason="Sharpe -0.8 over 50 bars",
                                now=datetime(2026, 1, 5, tzinfo=UTC))
        prune = brain.enqueue("prune", SLOT, version=2, rule="stale_challenger", reason="never promoted",
                              now=datetime(2026, 1, 6, tzinfo=UTC))

    listed = json.loads(huracan(url, config_file, "queue", "list", "--json").stdout)["items"]
    assert [(i["id"], i["queue"], i["state"]) for i in listed] == [(prune.id, "prune", "pending"),
                                                                   (retrain.id, "retrain", "pending")]
    only_prune = json.loads(huracan(url, config_file, "queue", "list", "--queue", "prune", "--json").stdout)
    assert [i["version"] for i in only_prune["items"]] == [2]
    text = huracan(url, config_file, "queue", "list")
    assert "stale_challenger" in text.stdout and "never promoted" in text.stdout

    approved = huracan(url, config_file, "queue", "approve", str(prune.id), "--reason", "agreed", "--json")
    assert approved.returncode == 0, approved.stderr
    assert json.loads(approved.stdout)["outcome"] == f"{SLOT} v2 pruned"
    rejected = huracan(url, config_file, "queue", "reject", str(retrain.id), "--reason", "one bad day")
    assert rejected.returncode == 0 and rejected.stdout.strip() == f"queue item {retrain.id} rejected"
    again = huracan(url, config_file, "queue", "reject", str(retrain.id), "--reason", "twice")
    assert again.returncode == 1 and "is rejected, not pending" in again.stderr

    pruned = huracan(url, config_file, "prune", SLOT, "3", "--reason", "superseded", "--json")
    assert pruned.returncode == 0, pruned.stderr
    champion = huracan(url, config_file, "prune", SLOT, "1", "--reason", "x")
    assert champion.returncode == 1 and "is the champion" in champion.stderr
    promote_pruned = huracan(url, config_file, "promote", SLOT, "3", "--reason", "x", "--force")
    assert promote_pruned.returncode == 1 and "is pruned" in promote_pruned.stderr

    done = json.loads(huracan(url, config_file, "queue", "list", "--state", "rejected", "--state", "done",
                              "--json").stdout)["items"]
    assert {(i["queue"], i["state"], i["decided_by"]) for i in done} == {("prune", "done", "alice"),
                                                                          ("retrain", "rejected", "alice")}
    with open_brain(url) as brain:
        assert [v.status for v in brain.list_versions(SLOT)][1:] == ["pruned", "pruned"]
        actions = [e.action for e in brain.list_audit(limit=20)]
        assert actions.count("queue.approve") == 1 and actions.count("queue.reject") == 2
        assert actions.count("prune") == 3  # the item's, v3's, and the refused one of the champion


def test_a_viewer_is_refused_and_the_refusal_is_audited(brain_with_versions, tmp_path):
    url = brain_with_versions
    config = write_config(tmp_path / "roles.yaml",
                          roles={"default": "operator", "users": {"alice": "viewer"}})
    refused = huracan(url, config, "promote", SLOT, "1", "--reason", "first")
    assert refused.returncode == 1 and "refused" in refused.stderr and "alice is a viewer" in refused.stderr
    assert "Traceback" not in refused.stderr
    bob = huracan(url, config, "promote", SLOT, "1", "--reason", "first",
                  env={"USER": "bob", "LOGNAME": "bob"})
    assert bob.returncode == 0, bob.stderr
    with open_brain(url) as brain:
        assert brain.champion(SLOT).number == 1  # bob's, not alice's
        (denied,) = [e for e in brain.list_audit() if e.actor == "alice"]
        assert denied.action == "promote" and denied.outcome.startswith("refused: alice is a viewer")
        assert brain.list_requests()[-1].state == "refused"


def test_a_promotion_claimed_by_a_leader_first_is_reported_as_the_leader_left_it(brain_with_versions,
                                                                                  monkeypatch):
    """Issue 12 point 4: a leader took the row between submit and carry-out; the CLI printed
    `promote running: None` and exited 1 though the promotion went through."""
    with open_brain(brain_with_versions) as brain:
        race = ClaimRace(brain, monkeypatch, handler="leader other:3")
        finished = carry_out(brain, brain_with_versions, HuracanConfig(), "promote",
                             {"slot": SLOT, "version": 1, "reason": "first"})
        race.join()
        assert (finished.state, finished.handled_by) == ("done", "leader other:3")
        assert finished.outcome == f"{SLOT}: v1 is the champion" and brain.champion(SLOT).number == 1


@pytest.mark.parametrize("args, message", [
    (("promote", "NOPE:1d:fwd_ret_1", "1", "--reason", "x"), "no slot NOPE:1d:fwd_ret_1"),
    (("promote", SLOT, "9", "--reason", "x"), f"{SLOT} has no version 9"),
    (("promote", SLOT, "1"), "promote needs --reason TEXT"),
    (("rollback", SLOT), "rollback needs --reason TEXT"),
    (("prune", SLOT, "2", "--reason", " "), "prune needs --reason TEXT"),
    (("history", SLOT, "--at", "yesterday"), "--at: not an ISO-8601 time: 'yesterday'"),
    (("history", "NOPE:1d:fwd_ret_1"), "no slot NOPE:1d:fwd_ret_1"),
    (("audit", "--since", "last week"), "--since: not an ISO-8601 time"),
    (("audit", "--limit", "0"), "--limit must be at least 1"),
    # Out of range: each was an OverflowError traceback.
    (("audit", "--since", "99999999d"), "--since: '99999999d' reaches back before the year 1"),
    (("history", SLOT, "--at", "0001-01-01T00:00:00+01:00"), "is outside the years 1 to 9999 in UTC"),
    (("show", SLOT, "--number", str(10**20)), "--number must be at most 2147483647"),
    (("queue", "list", "--limit", str(10**20)), "--limit must be at most 2147483647"),
    (("promote", SLOT, str(10**20), "--reason", "x"), "version must be at most 2147483647"),
    (("queue", "approve", str(10**20), "--reason", "x"), "item must be at most 2147483647"),
    (("queue", "approve", "42", "--reason", "x"), "no queue item 42"),
])
def test_bad_input_is_one_line_and_writes_nothing(seeded_brain_url, config_file, args, message):
    with open_brain(seeded_brain_url) as brain:
        audit_before = len(brain.list_audit())
    result = huracan(seeded_brain_url, config_file, *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    with open_brain(seeded_brain_url) as brain:
        assert len(brain.list_audit()) == audit_before and brain.list_requests() == []
