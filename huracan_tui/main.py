"""`huracan-tui`: the console, or with --headless the scheduler alone."""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import sys
from functools import partial
from pathlib import Path

# The start imports hundreds of modules and reads the first snapshot: objects that live as long as
# the process. The cyclic collector would walk them again and again while they pile up (a tenth of
# the time to the first paint), so it waits until the first frame is painted, then leaves them out
# of its walks (gc.freeze) and runs as usual. Only in the program itself, not where a test imports this.
STARTING_PROGRAM = __name__ == "__main__" or Path(sys.argv[0]).name == "huracan-tui"
if STARTING_PROGRAM:
    gc.disable()


FIRST_PAINT_FALLBACK_SECONDS = 10.0


def _after_first_paint(leader: LeaderProcess | None) -> None:
    _collect_as_usual()
    if leader is not None:
        leader.start()


def _collect_as_usual() -> None:
    """The start's objects made: leave them out of the collector's walks, and collect again."""
    if STARTING_PROGRAM and not gc.isenabled():
        gc.freeze()
        gc.enable()


def _stopped_while_starting(_signum, _frame) -> None:
    raise SystemExit(0)


if "--headless" in sys.argv[1:]:
    # A SIGTERM while the headless scheduler is still importing (a second or two under load) is a
    # clean stop: nothing runs yet. Set before the imports below; run_headless puts its own
    # handler in place once it runs.
    signal.signal(signal.SIGTERM, _stopped_while_starting)
from huracan_tui import __version__  # noqa: E402 (after the early stop handler)
from huracan_tui.settings import add_global_options, resolve_brain_url, resolve_config  # noqa: E402 (after the early stop handler)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="huracan-tui",
        description="Huracan: a keyboard-driven console for trading models, or (--headless) "
        "the scheduler that keeps them fresh.",
    )
    parser.add_argument("--version", action="version", version=f"huracan-tui {__version__}")
    add_global_options(parser)
    parser.add_argument("--headless", action="store_true",
                        help="run the scheduler without a UI (stop with SIGTERM or Ctrl-C)")
    parser.add_argument("--demo", action="store_true",
                        help="import the bundled market data and train the demo models at start")
    parser.add_argument("--read-only", action="store_true",
                        help="look, never act: every action that changes something is disabled")
    parser.add_argument("--no-leader", action="store_true",
                        help="do not start a scheduler beside the console when none is running")
    parser.add_argument("--as", dest="acting_as", metavar="NAME",
                        help="act as NAME, one the config's roles.users names, through this OS account "
                        "(an SSH forced command on a shared account; never more than the account may)")
    # A leader started by a console stops when that console's process ends.
    parser.add_argument("--exit-with", type=int, metavar="PID", help=argparse.SUPPRESS)
    return parser


def _state_dir() -> Path:
    from platformdirs import user_state_dir

    path = Path(user_state_dir("huracan"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def check_console_config(config, path) -> None:
    """What only the console knows: its action ids and theme names."""
    from huracan_tui.console.actions import unknown_keymap_ids
    from scheduler.config import ConfigError
    from themes import THEME_NAMES

    unknown = unknown_keymap_ids(config.console.keymap)
    if unknown:
        raise ConfigError(f"{path}: console.keymap.{unknown[0]}: unknown action id "
                          f"(see the help screen for the ids)")
    if config.console.theme not in THEME_NAMES:
        raise ConfigError(f"{path}: console.theme: unknown theme {config.console.theme!r} "
                          f"(themes: {', '.join(THEME_NAMES)})")


def run(argv: list[str] | None = None) -> int:
    from brain import BrainError, open_brain
    from scheduler.config import ConfigError

    args = build_parser().parse_args(argv)
    try:
        config = resolve_config(args.config)
        check_console_config(config, args.config)
        check_acting_name(args, config)  # before the brain is opened: a refusal writes nothing
        brain_url = resolve_brain_url(args.brain, config)
        if args.headless:
            from scheduler.daemon.headless import run_headless

            logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                                format="%(asctime)s %(name)s %(levelname)s %(message)s")
            # APScheduler logs every tick at INFO; our own lines say what was done.
            logging.getLogger("apscheduler").setLevel(logging.WARNING)
            feeds = None
            if args.demo:
                from scheduler.daemon.headless import demo_config
                from scheduler.services.live import demo_feeds

                config, feeds = demo_config(config), demo_feeds()
            from scheduler.daemon.executor import ExecutorUnavailable

            try:
                _collect_as_usual()
                return run_headless(brain_url, config, log_dir=_state_dir(), exit_with=args.exit_with,
                                    feeds=feeds)
            except ExecutorUnavailable as error:
                print(f"huracan-tui: error: {error}", file=sys.stderr)
                return 1
        brain = open_brain(brain_url)
        leader = None
        # A brain this user cannot write (read-only file or login) is for viewing: no leader beside it.
        if not (args.read_only or brain.read_only or args.no_leader or not config.console.embedded_leader):
            # An empty brain is offered the demo: its leader is ready to replay it.
            demo = args.demo or not brain.list_slots()
            leader = LeaderProcess(brain, brain_url, args.config, demo=demo)
    except ConfigError as error:
        print(f"huracan-tui: error: {error}", file=sys.stderr)
        return 2
    except BrainError as error:
        print(f"huracan-tui: error: {error}", file=sys.stderr)
        return 1

    from concurrent.futures import ThreadPoolExecutor

    from scheduler.services.overview import read_snapshot

    # The first read runs while Textual is imported: SQLite works with the GIL released, so the
    # two overlap on a machine with more than one core.
    with ThreadPoolExecutor(max_workers=1) as reader:
        reading = reader.submit(read_snapshot, brain)
        from huracan_tui.console.app import HuracanApp
    try:
        first = reading.result()
    except BrainError as error:
        print(f"huracan-tui: error: {error}", file=sys.stderr)
        return 1
    app = HuracanApp(brain, brain_url, config, demo=args.demo, read_only=args.read_only,
                     worker_log=_state_dir() / "workers.log", snapshot=first, acting_as=args.acting_as,
                     after_first_paint=partial(_after_first_paint, leader))
    hangup = HangUp(app, leader)
    if STARTING_PROGRAM:
        # A console whose first read never comes (an unreachable brain) collects as usual anyway.
        import threading

        fallback = threading.Timer(FIRST_PAINT_FALLBACK_SECONDS, _collect_as_usual)
        fallback.daemon = True
        fallback.start()
    try:
        app.run()
    finally:
        hangup.winding_down = True  # another SIGHUP now must not cut the leader's stop short
        if leader is not None:
            leading = leader.leading()
            leader.stop()
            # Said where the operator reads it, once the screen is the shell's again (if it still is).
            if leading and not hangup.happened:
                print(HANDOVER_NOTE, file=sys.stderr)
        brain.close()
        hangup.restore()
    return app.return_code or 0


def check_acting_name(args, config) -> None:
    """`--as NAME` names a user the config's roles.users lists, and only for the console."""
    from scheduler.config import ConfigError
    from scheduler.services.roles import acting_name_refusal

    if args.acting_as is None:
        return
    if args.headless:
        raise ConfigError("--as: a console option (the headless scheduler acts as its own account)")
    refusal = acting_name_refusal(config, args.acting_as)
    if refusal is not None:
        raise ConfigError(refusal)


class HangUp:
    """A terminal that goes away (a dropped SSH connection closes the pty: SIGHUP) ends the
    console as a quit does, so the `finally` of `run` stops its leader process too; by default
    SIGHUP would kill the console on the spot and leave that child to notice on its own
    (`--exit-with`). The handler only schedules the exit on the app's loop, and a watchdog makes
    sure it happens: Textual's shutdown writes to the terminal that is gone, and its writer thread
    can block there for good (seen with a hang-up while the first frames were still being
    written), so after `HANGUP_GRACE_SECONDS` the watchdog stops the leader itself and ends the
    process."""

    HANGUP_GRACE_SECONDS = 5.0

    def __init__(self, app, leader: LeaderProcess | None = None) -> None:
        self.app = app
        self.leader = leader
        self.happened = False
        self.winding_down = False  # the app has ended: the rest of `run` is stopping the leader
        self.previous = signal.signal(signal.SIGHUP, self._hung_up)

    def _hung_up(self, _signum, _frame) -> None:
        import asyncio

        first = not self.happened
        self.happened = True
        if first:
            import threading

            threading.Thread(target=self._watchdog, name="huracan-hangup", daemon=True).start()
        if self.winding_down:
            return
        try:
            loop = asyncio.get_running_loop()  # the app's, on this (the main) thread
        except RuntimeError:
            raise SystemExit(129) from None  # not running yet or any more: nothing to wind down
        loop.call_soon_threadsafe(self.app.exit, None, 129)

    def _watchdog(self) -> None:
        import os
        import time

        time.sleep(self.HANGUP_GRACE_SECONDS)
        # Still here: the console's shutdown is stuck on the dead terminal (or the leader's stop is
        # slow). The leader is stopped as `run` would have (SIGTERM, its jobs marked interrupted).
        if self.leader is not None:
            self.leader.stop()
        os._exit(129)

    def restore(self) -> None:
        signal.signal(signal.SIGHUP, self.previous)


HANDOVER_NOTE = ("huracan-tui: this console ran the scheduler (the brain's leader), which stopped with it. "
                 "A console standing by takes over within seconds; with none open, start one or "
                 "`huracan-tui --headless`.")


class LeaderProcess:
    """Every console with the embedded leader enabled starts one beside itself (`huracan-tui
    --headless` in its own process, so training, live feeds and policies never run on the UI's
    loop). With a leader alive elsewhere it stands by, and takes the lease when that one ends: a
    console quitting hands the scheduler to another console still open. It is started once the
    console has painted its first frame (two interpreters starting at once on a small machine
    slow the first paint), and stopped with the console. The URL travels in the environment, not
    on a command line `ps` shows."""

    def __init__(self, brain, brain_url: str, config_path, *, demo: bool) -> None:
        self.brain, self.brain_url, self.config_path, self.demo = brain, brain_url, config_path, demo
        self.process = None

    def start(self) -> None:
        import os
        import subprocess

        if self.process is not None:
            return
        command = [sys.executable, "-m", "huracan_tui.main", "--headless", "--exit-with", str(os.getpid())]
        if self.config_path:
            command += ["--config", str(self.config_path)]
        if self.demo:
            command.append("--demo")
        log = open(_state_dir() / "leader.log", "ab")  # noqa: SIM115 - handed to the child
        try:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, env={**os.environ, "HURACAN_BRAIN": self.brain_url})
        finally:
            log.close()

    def leading(self) -> bool:
        """Whether this console's instance holds the lease now (its quitting ends the lead)."""
        from brain import BrainError

        if self.process is None:
            return False
        try:
            lead = self.brain.current_leader()
        except BrainError:
            return False
        return lead is not None and lead.pid == self.process.pid

    def stop(self, timeout: float = 20.0) -> None:
        import subprocess

        if self.process is None:
            return
        self.process.terminate()  # SIGTERM: its workers stop and their jobs are marked interrupted
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
