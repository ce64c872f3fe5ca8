"""Operators over SSH on one shared account: a real sshd on 127.0.0.1 whose `authorized_keys`
gives each person's key a forced command (`huracan-tui --as NAME`, docs/ssh.md), a real ssh
client in a tmux pane. The operator's key promotes, the viewer's is refused in words, the audit
log names each person and where they came from, and a dropped connection leaves nothing running."""

from __future__ import annotations

import getpass
import os
import shlex
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from brain import open_brain
from scheduler.services.requests import ACCOUNT_ARG
from tests.conftest import write_config
from tests.tui.test_tmux import BIN, Terminal, pytestmark  # noqa: F401  (tmux marks, shared)
from tests.waiting import wait_until

GOOG = "GOOG:1d:fwd_ret_1"
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
REPO = Path(__file__).resolve().parents[2]


def need(tool: str) -> str:
    """A tool the test cannot run without: skipped where it is missing, never in CI (which installs it)."""
    path = tool if os.access(tool, os.X_OK) else shutil.which(tool)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{tool} is missing (.ci/run installs openssh-server)")
        pytest.skip(f"{tool} is not installed (CI installs openssh-server and never skips)")
    return path


class SSHServer:
    """sshd of our own on 127.0.0.1 and a free port; each key's forced command runs the console as
    one person through this OS account (here the test's user), by a wrapper that reads the
    brain's URL from an environment file, as docs/ssh.md sets it up."""

    def __init__(self, root: Path, brain_url: str, config: Path, people: list[str]) -> None:
        self.root, self.user = root, getpass.getuser()
        keygen = need("ssh-keygen")
        for name in ("host", *people):
            key = root / f"{name}_key"
            subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
        environment = root / "huracan.env"  # the account's own file: the brain URL, never a command line
        environment.write_text(f"HURACAN_BRAIN={brain_url}\nHOME={root}\nXDG_STATE_HOME={root / 'state'}\n"
                               f"XDG_DATA_HOME={root / 'data'}\nPYTHONPATH={REPO}\n")
        wrapper = root / "huracan-ssh"
        console = f"{shlex.quote(str(BIN / 'huracan-tui'))} --config {shlex.quote(str(config))}"
        wrapper.write_text(f"#!/bin/sh\nset -a\n. {shlex.quote(str(environment))}\nset +a\n"
                           f"exec {console} --as \"$1\"\n")
        wrapper.chmod(0o755)
        (root / "authorized_keys").write_text("".join(
            f'restrict,pty,command="{wrapper} {name}" {(root / f"{name}_key.pub").read_text().strip()}\n'
            for name in people))
        with socket.socket() as probe:  # a port free now; sshd takes it at once
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        settings = root / "sshd_config"
        settings.write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {root / 'host_key'}",
            f"PidFile {root / 'sshd.pid'}", f"AuthorizedKeysFile {root / 'authorized_keys'}",
            "StrictModes no", "UsePAM no", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password", "PubkeyAuthentication yes", f"AllowUsers {self.user}", "",
        ]))
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
        self.log = open(root / "sshd.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen([need(SSHD), "-D", "-e", "-f", str(settings)],
                                        stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(self._listening, 20, "sshd to listen")

    def _listening(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"sshd exited {self.process.returncode}: {self.log_text()}")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def log_text(self) -> str:
        return (self.root / "sshd.log").read_text(errors="replace")

    def client(self, name: str) -> list[str]:
        key = str(self.root / f"{name}_key")
        return [need("ssh"), "-tt", "-F", "/dev/null", "-i", key, "-p", str(self.port),
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR", f"{self.user}@127.0.0.1"]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self.log.close()


def huracan_processes(marker: str) -> list[int]:
    """The huracan-tui processes (consoles, their leaders) whose command line or environment names
    `marker`: the console has the brain's URL in its environment, its leader too."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            environment = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if ((b"huracan-tui" in command or b"huracan_tui" in command)
                and (marker.encode() in command or marker.encode() in environment)):
            found.append(int(entry.name))
    return found


@pytest.fixture
def sshd(tmp_path, seeded_brain_url):
    config = write_config(tmp_path / "huracan.yaml",
                          roles={"users": {"alice": "operator", "bob": "viewer"}})
    server = SSHServer(tmp_path, seeded_brain_url, config, ["alice", "bob"])
    yield server
    server.stop()
    for pid in huracan_processes(str(tmp_path)):  # a failed test leaves nothing behind either
        os.kill(pid, signal.SIGKILL)


def ssh_pid(term: Terminal) -> int:
    shell = int(term.tmux("display-message", "-p", "-t", "main", "#{pane_pid}"))
    children = subprocess.run(["pgrep", "-P", str(shell)], capture_output=True, text=True).stdout.split()
    assert children, "the ssh client was not found under the pane's shell"
    return int(children[0])


def registry_shown(term: Terminal, timeout: float = 30.0) -> None:
    """The registry is up with its versions (the slot view lists versions too: a key pressed
    before the registry is on screen would go to it)."""
    wait_until(lambda: "Registry: " in (screen := term.screen()) and " v1  linear" in screen, timeout,
               "the registry with its versions")


def test_operators_over_ssh_act_as_themselves_and_a_dropped_connection_leaves_nothing(
        sshd, seeded_brain_url, terminal_env, tmp_path):
    marker = str(tmp_path)
    alice = Terminal(sshd.client("alice"), terminal_env, tmp_path / "alice.exit")
    try:
        alice.wait_for(GOOG)
        alice.wait_for("alice OPERATOR")  # the status line names the person, not the account
        alice.wait_for("leader: ")  # the console's own leader leads: the promotion travels to it
        alice.keys("/")
        alice.wait_for("filter rows")
        alice.keys("GOOG", "Enter")
        alice.wait_gone("EURUSD:1h:fwd_ret_1")
        alice.keys("Enter")
        alice.wait_for("walk-forward folds")
        alice.keys("G")
        registry_shown(alice)
        alice.keys("P")  # versions are newest first: v2, the slot's first champion
        alice.wait_for("becomes the first")
        alice.keys("first champion, over ssh", "Enter")
        alice.wait_for("champion v2")
        running = huracan_processes(marker)
        assert len(running) == 2, running  # the console and its leader
        os.kill(ssh_pid(alice), signal.SIGKILL)  # the connection drops: sshd hangs up the pty
        wait_until(lambda: not huracan_processes(marker), 30, "the console and its leader to end")
    finally:
        alice.close()
    # The console heard the hang-up and stopped its leader itself, as a quit does (not the leader
    # finding its console gone, which a console killed outright leaves to it).
    leader_log = (tmp_path / "state" / "huracan" / "leader.log").read_text()
    assert "SIGTERM received: stopping" in leader_log, leader_log

    with open_brain(seeded_brain_url) as brain:
        assert brain.champion(GOOG).number == 2
        (request,) = [r for r in brain.list_requests() if r.action == "promote"]
        assert (request.actor, request.origin, request.state) == ("alice", "127.0.0.1", "done")
        assert request.args[ACCOUNT_ARG] == sshd.user and request.handled_by.startswith("leader ")
        promoted = next(entry for entry in brain.list_audit() if entry.action == "promote")
        assert (promoted.actor, promoted.origin, promoted.outcome) == ("alice", "127.0.0.1", "ok")

    bob = Terminal(sshd.client("bob"), terminal_env, tmp_path / "bob.exit")
    try:
        bob.wait_for("bob READ-ONLY")
        bob.keys("Enter")
        bob.wait_for("walk-forward folds")
        bob.keys("G")
        registry_shown(bob)
        bob.keys("P")
        # A toast, wrapped anywhere and edged with a bar: the words without the spaces and the bar.
        said = "".join(bob.wait_for("you are a viewer").split()).replace("▌", "")
        assert "needstheoperatorrole(youareaviewer)" in said
        with open_brain(seeded_brain_url) as brain:
            denied = wait_until(lambda: [e for e in brain.list_audit() if e.outcome == "denied"], 20,
                                "bob's refusal to be audited")
        bob.keys("q")
        assert bob.wait_exit() == 0  # ssh passes the console's own exit status on
        wait_until(lambda: not huracan_processes(marker), 30, "bob's console and its leader to end")
    finally:
        bob.close()
    (entry,) = denied
    assert (entry.action, entry.actor, entry.origin) == ("promote", "bob", "127.0.0.1")
    assert entry.details == {"role": "viewer", "account": sshd.user}
    with open_brain(seeded_brain_url) as brain:
        assert len(brain.promotion_history(GOOG)) == 1


def test_an_unlisted_name_is_refused_in_one_line_and_nothing_is_written(tmp_path):
    config = write_config(tmp_path / "huracan.yaml", roles={"users": {"alice": "operator"}})
    brain_path = tmp_path / "brain.db"
    done = subprocess.run([str(BIN / "huracan-tui"), "--as", "carol", "--config", str(config),
                           "--brain", f"sqlite:///{brain_path}"],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "HOME": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr == "huracan-tui: error: --as carol: the config's roles.users does not name this user\n"
    assert not brain_path.exists()
