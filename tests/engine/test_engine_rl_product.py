"""The agent kinds in the zoo's shared paths: they learn under the run's costs, and Optuna searches
only parameters they have."""

from __future__ import annotations

import pytest

from engine.models import model_class
from engine.training import model_defaults
from engine.tuning import SEARCH_SPACES


@pytest.mark.parametrize("kind", ["dqn", "ppo_sizing"])
def test_an_agent_learns_under_the_costs_it_is_scored_with(kind):
    assert model_defaults(kind, {}, 1, 7, cost_bps=12.5)["cost_bps"] == 12.5
    # A cost the config names for the kind stays its own.
    assert model_defaults(kind, {"cost_bps": 3.0}, 1, 7, cost_bps=12.5)["cost_bps"] == 3.0


def test_kinds_without_a_cost_parameter_are_not_given_one():
    assert "cost_bps" not in model_defaults("linear", {}, 1, 7, cost_bps=12.5)


@pytest.mark.parametrize("kind", sorted(SEARCH_SPACES))
def test_every_search_space_names_parameters_its_kind_has(kind):
    assert set(SEARCH_SPACES[kind]) <= set(model_class(kind).param_names())


def test_the_agents_can_be_tuned():
    assert {"dqn", "ppo_sizing"} <= set(SEARCH_SPACES)
