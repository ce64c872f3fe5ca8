"""The agents' actor networks as plain torch modules, rebuilt from a JSON spec.

Serving an agent needs only its actor: for a DQN the Q-network (observation -> one Q-value per
action), for PPO the policy network and its action head (observation -> the mean action, which
a deterministic rollout takes, clipped to the action space). stable-baselines3 builds both as
Linear layers with an activation between them; `build_actor` lays out the same layers in one
torch.nn.Sequential, so the library's weights load into it by renaming their keys, and loading
an artifact needs neither stable-baselines3 nor anything unpickled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

ACTIVATIONS = ("relu", "tanh")


@dataclass(frozen=True)
class ActorSpec:
    """The layers of an actor: input width, hidden widths, output width, the activation."""

    obs_dim: int
    hidden: tuple[int, ...]
    n_outputs: int
    activation: str

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "hidden": list(self.hidden)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ActorSpec:
        spec = cls(
            obs_dim=int(data["obs_dim"]),
            hidden=tuple(int(width) for width in data["hidden"]),
            n_outputs=int(data["n_outputs"]),
            activation=str(data["activation"]),
        )
        if spec.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {spec.activation!r}; known: {', '.join(ACTIVATIONS)}")
        return spec


def build_actor(spec: ActorSpec):
    """torch.nn.Sequential(Linear, activation, ..., Linear) as the spec says."""
    import torch

    activation = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}[spec.activation]
    layers: list[torch.nn.Module] = []
    width = spec.obs_dim
    for hidden in spec.hidden:
        layers += [torch.nn.Linear(width, hidden), activation()]
        width = hidden
    layers.append(torch.nn.Linear(width, spec.n_outputs))
    return torch.nn.Sequential(*layers)


def dqn_actor_weights(policy) -> dict:
    """The Q-network's weights of a stable-baselines3 DQNPolicy, keyed as build_actor's module."""
    return {name: value.detach().cpu().clone() for name, value in policy.q_net.q_net.state_dict().items()}


def ppo_actor_weights(policy, hidden: Sequence[int]) -> dict:
    """The policy branch and action head of a stable-baselines3 ActorCriticPolicy, keyed as
    build_actor's module (the head is the layer after the hidden ones)."""
    weights = {name: value.detach().cpu().clone()
               for name, value in policy.mlp_extractor.policy_net.state_dict().items()}
    head = 2 * len(hidden)
    for name, value in policy.action_net.state_dict().items():
        weights[f"{head}.{name}"] = value.detach().cpu().clone()
    return weights
