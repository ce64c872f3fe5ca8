"""Huracan's engine: pure computation, no database, no UI, no clock.

data (load + validate OHLCV) -> features (causal) + targets (forward returns) -> validation
(purged walk-forward folds) -> models (linear, lightgbm) -> metrics -> training (train_model).
Nothing here imports brain, scheduler or the console; model libraries load on first use.
"""
