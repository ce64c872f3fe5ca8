"""The `huracan` subcommands, one module each. A module has `register(command)`, where
`command(name, handler, help)` returns the subcommand's argparse parser, and a handler
`run(args, config)` that prints its result through `output.emit`."""

from __future__ import annotations

import importlib

COMMAND_MODULES = (
    "train", "ensemble", "status", "show", "evaluate", "data", "models", "features", "predict", "autotune",
    "ab", "drift", "report", "regimes", "stress",
    "promote", "rollback", "history", "audit", "queue", "prune", "roles",
    "health",
    "alerts",
    "bundle",
)


def register_all(command) -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"huracan_tui.cli.subcommands.{name}").register(command)
