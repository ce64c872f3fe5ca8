"""Reinforcement learning over a version's feature rows: gymnasium environments and the small
torch policies the agent kinds (engine.models.rl_kinds) store and serve.

- `trading_env.TradingEnv`: sell / hold / buy as target positions, reward after costs;
- `sizing_env.SizingEnv`: a continuous position size within a leverage cap, on top of a
  champion's forecast;
- `policies`: the actor networks as plain torch modules, rebuilt from a JSON spec;
- `callbacks`: stable-baselines3 callbacks that report training progress.

Importing this package imports neither gymnasium nor torch: the modules above do, when used.
"""
