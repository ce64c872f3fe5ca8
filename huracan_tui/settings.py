"""Options shared by both front doors (`huracan` and `huracan-tui`)."""

from __future__ import annotations

import argparse
import os

from brain import default_brain_url
from scheduler.config import HuracanConfig, load_config

BRAIN_ENV = "HURACAN_BRAIN"


def add_global_options(parser: argparse.ArgumentParser, *, suppress_defaults: bool = False) -> None:
    """--brain / --config / --json. Subcommands get them too (with suppressed defaults) so they
    may be written before or after the subcommand's name."""
    default = argparse.SUPPRESS if suppress_defaults else None
    parser.add_argument(
        "--brain",
        metavar="URL",
        default=default,
        help=f"brain database URL (sqlite:///PATH or postgresql+psycopg://USER@HOST/DB); "
        f"default: ${BRAIN_ENV}, the config's `brain`, or a SQLite file in the user data dir",
    )
    parser.add_argument("--config", metavar="FILE", default=default, help="YAML config file")


def resolve_config(path: str | None) -> HuracanConfig:
    return load_config(path)


def resolve_brain_url(cli_value: str | None, config: HuracanConfig) -> str:
    """--brain beats $HURACAN_BRAIN beats the config file beats the per-user default."""
    return cli_value or os.environ.get(BRAIN_ENV) or config.brain or default_brain_url()
