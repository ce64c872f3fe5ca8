"""A name acting through a shared OS account (`huracan-tui --as alice`, an SSH forced command):
its role is the lowest of the account's and the name's, wherever it is judged (the console, the
executor of its requests), and a request written to claim more gets nothing more."""

from __future__ import annotations

import pytest

from brain import open_brain
from scheduler.config import HuracanConfig, RolesConfig
from scheduler.services.requests import ACCOUNT_ARG, RequestContext, carry_out_request, submit_request
from scheduler.services.roles import RoleRefused, acting_name_refusal, effective_role, require_operator
from tests.grants import grant_quietly

SLOT = "GOOG:1d:fwd_ret_1"
# The team's people, as the service account's config names them; anyone else is the default.
CONFIG = HuracanConfig(roles=RolesConfig(default="operator", users={"alice": "operator", "bob": "viewer"}))
PROMOTE = {"slot": SLOT, "version": 1, "reason": "first champion"}


@pytest.fixture
def brain(any_brain_url):
    with open_brain(any_brain_url) as brain:
        brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
        brain.add_version(SLOT, model_kind="linear", manifest={}, artifact=b"m1", artifact_format="skops",
                          metrics=[], data_start=None, data_end=None)
        grant_quietly(brain, "svc")  # the shared service account: an operator by the brain's say
        yield brain


def test_acting_names_get_the_lowest_of_the_account_and_the_name(brain):
    owner = brain.brain_owner()
    assert effective_role(brain, CONFIG, "alice", account="svc") == "operator"
    assert effective_role(brain, CONFIG, "alice", account=owner) == "operator"  # an owner acts as an operator
    assert effective_role(brain, CONFIG, "bob", account="svc") == "viewer"  # the config lowers the name
    # --as never raises: an account the brain does not make an operator stays a viewer.
    assert effective_role(brain, CONFIG, "alice", account="guest") == "viewer"
    # A name the config does not list acts as nobody, whatever the config's default or the brain.
    grant_quietly(brain, "carol")
    assert effective_role(brain, CONFIG, "carol") == "operator"  # carol logged in as herself
    assert effective_role(brain, CONFIG, "carol", account="svc") == "viewer"
    # The brain's grant for the name lowers it too (the owner takes alice's role away)...
    grant_quietly(brain, "alice", role="viewer")
    assert effective_role(brain, CONFIG, "alice", account="svc") == "viewer"
    # ...and a grant never lifts a name above the config.
    grant_quietly(brain, "bob")
    assert effective_role(brain, CONFIG, "bob", account="svc") == "viewer"
    assert effective_role(brain, CONFIG, "alice", account="svc", read_only=True) == "viewer"


def test_only_names_the_config_lists_may_be_acted_as():
    assert acting_name_refusal(CONFIG, "alice") is None
    refusal = acting_name_refusal(CONFIG, "carol")
    assert refusal == "--as carol: the config's roles.users does not name this user"


def test_a_refused_acting_name_is_audited_with_its_account(brain):
    with pytest.raises(RoleRefused, match="bob is a viewer: train not allowed"):
        require_operator(brain, CONFIG, "bob", "train", origin="127.0.0.1", account="svc")
    entry = brain.list_audit(limit=1)[0]
    assert (entry.action, entry.actor, entry.origin) == ("train", "bob", "127.0.0.1")
    assert entry.details == {"account": "svc"} and entry.outcome.startswith("refused")


def test_the_executor_applies_the_same_rule_to_requests(brain):
    ctx = RequestContext(brain, CONFIG, handler="leader test:1")
    bob = brain.submit_request("promote", {**PROMOTE, ACCOUNT_ARG: "svc"}, actor="bob", role="operator",
                               origin="127.0.0.1")
    refused = carry_out_request(ctx, bob)  # the row says operator; the executor judges for itself
    assert refused.state == "refused" and refused.outcome == "bob is a viewer: promote not allowed"
    entry = brain.list_audit(limit=1)[0]
    assert (entry.actor, entry.origin, entry.details["account"]) == ("bob", "127.0.0.1", "svc")
    # A row naming alice without her account is judged as the OS user alice: ungranted, a viewer.
    forged = brain.submit_request("promote", PROMOTE, actor="alice", role="operator")
    assert carry_out_request(ctx, forged).state == "refused"
    # Through an account that may not act, alice may not either.
    guest = brain.submit_request("promote", {**PROMOTE, ACCOUNT_ARG: "guest"}, actor="alice", role="operator")
    assert carry_out_request(ctx, guest).state == "refused"
    assert brain.champion(SLOT) is None

    done = submit_request(brain, CONFIG, "promote", PROMOTE, actor="alice", origin="127.0.0.1",
                          role="operator", handler="console alice", account="svc")
    assert (done.state, done.args[ACCOUNT_ARG]) == ("done", "svc")
    assert brain.champion(SLOT).number == 1
    promoted = brain.list_audit(limit=1)[0]
    assert (promoted.action, promoted.actor, promoted.origin) == ("promote", "alice", "127.0.0.1")
