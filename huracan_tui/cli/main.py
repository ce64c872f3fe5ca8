"""`huracan`: the scriptable command line. Every reporting command takes --json and then prints
exactly one JSON document on stdout; problems are one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import sys

from huracan_tui import __version__
from huracan_tui.cli.output import CommandError
from huracan_tui.cli.subcommands import register_all
from huracan_tui.settings import add_global_options, resolve_config

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
EXIT_BROKEN_PIPE = 141  # what a shell reports for a process killed by SIGPIPE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="huracan", description=__doc__)
    parser.add_argument("--version", action="version", version=f"huracan {__version__}")
    add_global_options(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        add_global_options(sub, suppress_defaults=True)
        sub.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                         help="print one JSON document on stdout")
        sub.set_defaults(handler=handler)
        return sub

    register_all(command)
    return parser


def run(argv: list[str] | None = None) -> int:
    from brain import BrainError
    from engine.data import DataError
    from scheduler.config import ConfigError

    args = build_parser().parse_args(argv)
    try:
        config = resolve_config(args.config)
        args.handler(args, config)
    except (CommandError, DataError, ConfigError) as error:
        print(f"huracan: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrainError as error:
        print(f"huracan: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except ValueError as error:  # engine checks on the data (too few rows, unknown timeframe)
        print(f"huracan: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


def main() -> None:
    try:
        code = run()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`huracan audit | head`): nothing left to say, and no traceback.
        # stdout is pointed at /dev/null so the interpreter's own flush at exit cannot fail again.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_BROKEN_PIPE
    sys.exit(code)


if __name__ == "__main__":
    main()
