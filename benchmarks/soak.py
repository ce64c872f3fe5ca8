"""Soak: kill -9 at random moments never damages the brain, and concurrent operators never lose or
misreport a request. On SQLite (a file) and PostgreSQL (a fresh schema of `--postgres-url`).

    .venv/bin/python benchmarks/soak.py [--backend sqlite|postgresql|both] [--kills 20]
        [--seconds 300] [--seed N] [--max-wait 4]

(1) Kill soak. Two real headless leaders (`huracan-tui --headless`, the brain URL in
$HURACAN_BRAIN) on one brain, one leading, one standing by, with a fast training config (LightGBM
alone, 40 rounds, 3 folds, the last 400 bars of GOOG 1d and EURUSD 1h), two worker processes at
once. Each round keeps train jobs queued (brain.create_job, as the scheduler tests do), waits for
a worker to run one, waits a random 0..max-wait s more, then SIGKILLs the leader, a worker (a
running job's pid from the jobs table) or both; checks the brain; waits until a leader holds the
lease and has reaped every job whose worker is dead; starts a leader in place of a killed one.
Finally every job must reach a final state. Consistent means: PRAGMA integrity_check is ok
(SQLite), every artifact has a version and every version its artifact, no version number twice
in a slot, no job left `running` once a leader has reaped, no job failed, and every killed job
queued again exactly once (jobs in the brain = jobs queued + jobs interrupted).

(2) Concurrency run. One leader, four writers and two readers for `--seconds`, all through the
CLI as users run it: writers loop over `huracan promote SLOT N --reason R --force --json`,
`rollback SLOT [--to N]`, `queue approve|reject ITEM`; readers over `audit --json` and
`status --json`. Every reason is unique, so afterwards each answer is matched with its
operator-request row: an answer "done" must be the row's id, state and outcome (and its effect,
the promotion or rollback, must be in the brain); a refusal or failure (exit 1) must be the row's
state and outcome; bad input (exit 2) must have written no row. A "done" the brain lacks, or a
row done that the CLI called failed, is a lost write; any other disagreement a misreport.
"database is locked" must never surface.

The functions are importable: tests/scheduler/test_soak.py runs a short version on both backends.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from brain import Brain, open_brain  # noqa: E402
from brain.lease import pid_alive  # noqa: E402
from brain.schema import artifacts, model_versions  # noqa: E402
from engine.data import load_ohlcv  # noqa: E402
from engine.datasets import bundled_path  # noqa: E402
from scheduler.config import TrainingConfig  # noqa: E402
from scheduler.services.job_params import train_job_params  # noqa: E402

BIN = Path(sys.executable).parent  # the virtualenv's bin: huracan, huracan-tui
SERIES = (("GOOG", "1d"), ("EURUSD", "1h"))
SLOTS = tuple(f"{symbol}:{timeframe}:fwd_ret_1" for symbol, timeframe in SERIES)
BARS = 400  # the last bars of each bundled series: a few seconds a job on a busy 2-core box
# tests/conftest.py FAST_TRAINING with its gradient-boosting kind alone (as the crash-safety tests).
TRAINING = {"models": ["lightgbm"], "n_folds": 3, "params": {"lightgbm": {"n_estimators": 40}}}
KILL_TARGETS = ("leader", "worker", "both")
FINAL_JOB_STATES = ("succeeded", "failed", "interrupted", "cancelled")
LOCKED = "database is locked"
POSTGRES_URL = os.environ.get("HURACAN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# How long a check waits for the brain to settle (a standby to take over, a reap, a drain).
REAP_TIMEOUT = 60.0
POLL_SECONDS = 0.1


# ---- shared ----------------------------------------------------------------------------------------


def wait_for(condition: Callable[[], object], timeout: float) -> bool:
    """Poll until `condition` holds; False if `timeout` passes first (the caller counts it)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True


def seed_bars(brain: Brain) -> None:
    for symbol, timeframe in SERIES:
        brain.store_bars(symbol, timeframe, load_ohlcv(bundled_path(symbol), symbol=symbol).tail(BARS))


def write_config(path: Path, *, max_workers: int) -> Path:
    document = {"training": TRAINING, "executor": {"kind": "local", "max_workers": max_workers},
                "schedule": {"retrain_every": "24h", "dispatch_every": "1s", "commands_every": "1s"}}
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def consistency_problems(brain: Brain) -> list[str]:
    """What is wrong with the brain's storage itself (read under the API, as the crash-safety
    tests do): an empty list when nothing is."""
    problems = []
    with brain._read() as conn:
        if brain.backend == "sqlite":
            integrity = conn.exec_driver_sql("PRAGMA integrity_check").scalar_one()
            if integrity != "ok":
                problems.append(f"integrity_check: {integrity}")
        stored = set(conn.execute(select(artifacts.c.sha256)).scalars())
        referenced = set(conn.execute(select(model_versions.c.artifact_sha256)).scalars())
        twice = conn.execute(
            select(model_versions.c.slot_id, model_versions.c.number)
            .group_by(model_versions.c.slot_id, model_versions.c.number)
            .having(func.count() > 1)).all()
    problems += [f"artifact {sha[:12]} has no version" for sha in sorted(stored - referenced)]
    problems += [f"version's artifact {sha[:12]} is missing" for sha in sorted(referenced - stored)]
    problems += [f"slot id {slot_id} has version {number} twice" for slot_id, number in twice]
    return problems


class LeaderPool:
    """Headless leader processes of one brain, started as users start them."""

    def __init__(self, brain_url: str, config: Path, workdir: Path):
        self.brain_url, self.config, self.workdir = brain_url, config, workdir
        self.processes: dict[int, subprocess.Popen] = {}
        self.logs: dict[int, Path] = {}
        self.started = 0

    def start(self) -> subprocess.Popen:
        self.started += 1
        log = self.workdir / f"leader-{self.started}.log"
        env = {**os.environ, "HURACAN_BRAIN": self.brain_url, "XDG_STATE_HOME": str(self.workdir / "state")}
        with open(log, "wb") as out:
            command = [str(BIN / "huracan-tui"), "--headless", "--config", str(self.config)]
            process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT)
        self.processes[process.pid] = process
        self.logs[process.pid] = log
        return process

    def alive(self) -> list[int]:
        return [pid for pid, process in self.processes.items() if process.poll() is None]

    def kill(self, pid: int) -> None:
        process = self.processes[pid]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    def stop_all(self, timeout: float = 90.0) -> dict[int, int | None]:
        """SIGTERM every live leader (the clean stop); their exit codes (None: had to be killed).
        Those the soak killed are not counted: they did not stop, they were shot."""
        running = {pid: self.processes[pid] for pid in self.alive()}
        for process in running.values():
            process.send_signal(signal.SIGTERM)
        codes: dict[int, int | None] = {}
        for pid, process in running.items():
            try:
                codes[pid] = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                codes[pid] = None
        return codes

    def tracebacks(self) -> list[Path]:
        return [log for log in self.logs.values() if "Traceback" in log.read_text(errors="replace")]


def is_worker(pid: int) -> bool:
    """A pid from the jobs table is only killed if it is still a worker (pids get reused)."""
    try:
        return b"scheduler.daemon.worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def kill_stray_workers(brain: Brain) -> None:
    """After a failed run: no worker of ours outlives it."""
    for job in brain.list_jobs(limit=1000, states=["running"]):
        if job.pid and is_worker(job.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(job.pid, signal.SIGKILL)


# ---- (1) the kill soak -------------------------------------------------------------------------------


@dataclass
class KillReport:
    backend: str
    kills: Counter = field(default_factory=Counter)  # by target: leader / worker / both
    checks: int = 0
    inconsistencies: list[str] = field(default_factory=list)
    failures: Counter = field(default_factory=Counter)  # by kind
    jobs_queued: int = 0
    jobs_interrupted: int = 0
    jobs_succeeded: int = 0
    versions: int = 0
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not self.inconsistencies and not self.failures

    def lines(self) -> list[str]:
        kills = ", ".join(f"{target} {self.kills[target]}" for target in KILL_TARGETS)
        failures = ", ".join(f"{kind} {n}" for kind, n in sorted(self.failures.items())) or "none"
        return [
            f"kill soak [{self.backend}]: {sum(self.kills.values())} kills ({kills}) in {self.seconds:.0f}s",
            f"  checks run: {self.checks}; inconsistencies: {len(self.inconsistencies)}"
            + "".join(f"\n    {problem}" for problem in self.inconsistencies[:10]),
            f"  failures by kind: {failures}",
            f"  jobs: {self.jobs_queued} queued by the soak, {self.jobs_interrupted} interrupted and queued "
            f"again, {self.jobs_succeeded} succeeded; {self.versions} versions stored",
        ]


def queue_train_job(brain: Brain, slot: str) -> int:
    symbol, timeframe, _ = slot.split(":")
    training = TrainingConfig.model_validate(TRAINING)
    return brain.create_job("train", slot_key=slot, params=train_job_params(symbol, timeframe, training)).id


def running_workers(brain: Brain) -> list[int]:
    return [job.pid for job in brain.list_jobs(limit=200, states=["running"])
            if job.pid and pid_alive(job.pid) and is_worker(job.pid)]


def reaped(brain: Brain) -> bool:
    """A leader holds the lease and no job is `running` without a live worker."""
    if brain.current_leader() is None:
        return False
    return all(job.pid and pid_alive(job.pid) for job in brain.list_jobs(limit=500, states=["running"]))


def check(report: KillReport, brain: Brain, when: str) -> None:
    report.checks += 1
    report.inconsistencies += [f"{when}: {problem}" for problem in consistency_problems(brain)]


def run_kill_soak(brain_url: str, workdir: Path, *, kills: int, seed: int, max_wait: float = 4.0,
                  backend: str = "") -> KillReport:
    """`kills` rounds of SIGKILL against a brain (fresh: the soak seeds it); see the module doc."""
    rng = random.Random(seed)
    report = KillReport(backend or brain_url.split(":", 1)[0])
    started = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    config = write_config(workdir / "soak.yaml", max_workers=2)
    with open_brain(brain_url) as brain:
        seed_bars(brain)
        pool = LeaderPool(brain_url, config, workdir)
        try:
            for _ in range(2):  # one leads, one stands by
                pool.start()
            for round_number in range(1, kills + 1):
                _kill_round(report, brain, pool, rng, max_wait, round_number)
            _drain(report, brain, pool)
        finally:
            codes = pool.stop_all()
            kill_stray_workers(brain)
        report.failures.update("leader exited with code " + str(code) for code in codes.values() if code != 0)
        report.failures.update("traceback in a leader's log" for _ in pool.tracebacks())
        _final_tally(report, brain)
    report.seconds = time.monotonic() - started
    return report


def _kill_round(report: KillReport, brain: Brain, pool: LeaderPool, rng: random.Random, max_wait: float,
                round_number: int) -> None:
    active = brain.list_jobs(limit=500, states=["queued", "running"])
    for _ in range(max(0, 3 - len(active))):  # work in flight when the kill comes
        queue_train_job(brain, rng.choice(SLOTS))
        report.jobs_queued += 1
    if not wait_for(lambda: running_workers(brain), REAP_TIMEOUT):
        report.failures["no worker started within the wait"] += 1
    time.sleep(rng.uniform(0, max_wait))  # the random moment of the kill

    target = rng.choice(KILL_TARGETS)
    workers = running_workers(brain)
    if not workers and target != "leader":
        target = "leader"  # every worker finished meanwhile: the leader is what is left to kill
    if target in ("leader", "both"):
        leader = brain.current_leader()
        if leader is None or leader.pid not in pool.alive():
            report.failures["no live leader of ours to kill"] += 1
        else:
            pool.kill(leader.pid)
    if target in ("worker", "both"):
        pid = rng.choice(workers)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    report.kills[target] += 1

    check(report, brain, f"round {round_number} right after killing the {target}")
    while len(pool.alive()) < 2:  # a standby takes over; a new one stands by in its place
        pool.start()
    if not wait_for(lambda: reaped(brain), REAP_TIMEOUT):
        stuck = [job.id for job in brain.list_jobs(limit=500, states=["running"])
                 if not (job.pid and pid_alive(job.pid))]
        report.failures["job left running after a leader reaped"] += 1
        report.inconsistencies.append(f"round {round_number}: jobs {stuck} running with a dead worker "
                                      f"{REAP_TIMEOUT:g}s after the kill")
    check(report, brain, f"round {round_number} after the reap")


def _drain(report: KillReport, brain: Brain, pool: LeaderPool) -> None:
    """No more kills: every job must reach a final state."""
    def drained() -> bool:
        return not brain.list_jobs(limit=500, states=["queued", "running"])

    timeout = REAP_TIMEOUT + 30.0 * len(brain.list_jobs(limit=500, states=["queued", "running"]))
    if not wait_for(drained, timeout):
        left = [(job.id, job.state) for job in brain.list_jobs(limit=500, states=["queued", "running"])]
        report.failures["job not final after the drain"] += len(left)
        report.inconsistencies.append(f"jobs not final {timeout:g}s after the last kill: {left}")


def _final_tally(report: KillReport, brain: Brain) -> None:
    jobs = brain.list_jobs(limit=100_000)
    states = Counter(job.state for job in jobs)
    report.jobs_interrupted = states["interrupted"]
    report.jobs_succeeded = states["succeeded"]
    report.versions = sum(len(brain.list_versions(slot)) for slot in SLOTS if brain.get_slot(slot))
    for job in jobs:
        if job.state == "failed":
            report.failures[f"job failed: {(job.error or '').splitlines()[-1:]}"] += 1
        elif job.state not in FINAL_JOB_STATES:
            report.failures[f"job {job.state} at the end"] += 1
    # Each interrupted job is queued again once, as a new job: anything else lost or doubled one.
    expected = report.jobs_queued + report.jobs_interrupted
    if len(jobs) < expected:
        report.failures["killed job never queued again"] += expected - len(jobs)
    elif len(jobs) > expected:
        report.failures["job queued again more than once"] += len(jobs) - expected
    if report.versions < report.jobs_succeeded:
        report.failures["succeeded job without its version"] += report.jobs_succeeded - report.versions
    check(report, brain, "at the end")


# ---- (2) the concurrency run -------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One CLI run of a writer: what it asked for (`reason` is unique) and what it answered."""

    action: str  # promote, rollback, queue.approve, queue.reject
    reason: str
    argv: tuple[str, ...]
    code: int
    stdout: str
    stderr: str


@dataclass
class ConcurrencyReport:
    backend: str
    seconds: float = 0.0
    requests: Counter = field(default_factory=Counter)  # by how the CLI answered
    reads: int = 0
    failures: Counter = field(default_factory=Counter)  # by kind
    lost_writes: list[str] = field(default_factory=list)
    misreports: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.failures and not self.lost_writes and not self.misreports

    def lines(self) -> list[str]:
        answers = ", ".join(f"{kind} {n}" for kind, n in sorted(self.requests.items()))
        failures = ", ".join(f"{kind} {n}" for kind, n in sorted(self.failures.items())) or "none"
        return [
            f"concurrency [{self.backend}]: {sum(self.requests.values())} requests ({answers}) and "
            f"{self.reads} reads in {self.seconds:.0f}s",
            f"  failures by kind: {failures}",
            f"  lost writes: {len(self.lost_writes)}" + "".join(f"\n    {w}" for w in self.lost_writes[:10]),
            f"  misreported requests: {len(self.misreports)}"
            + "".join(f"\n    {m}" for m in self.misreports[:10]),
        ]


def seed_concurrency_brain(brain: Brain) -> None:
    """Two slots with three versions each, a first champion, and queue items to decide."""
    from scheduler.services.training import train_slot

    seed_bars(brain)
    linear = TrainingConfig.model_validate({**TRAINING, "models": ["linear"]})
    for symbol, timeframe in SERIES:
        for _ in range(3):
            train_slot(brain, symbol, timeframe, linear)
    for slot in SLOTS:
        brain.promote_version(slot, 1, actor="soak", reason="soak: the first champion")
    feed_queues(brain, random.Random(0))


def feed_queues(brain: Brain, rng: random.Random) -> None:
    """Keep pending items to approve or reject: a retrain per slot, a prune of a random version."""
    for slot in SLOTS:
        brain.enqueue("retrain", slot, rule="soak", reason="soak: retrain to decide")
        number = rng.choice([version.number for version in brain.list_versions(slot)])
        brain.enqueue("prune", slot, version=number, rule="soak", reason="soak: prune to decide")


class Writer:
    """One operator in a loop: promote, roll back, approve and reject through the CLI."""

    def __init__(self, index: int, brain_url: str, config: Path, tag: str, seed: int):
        self.index, self.brain_url, self.config, self.tag = index, brain_url, config, tag
        self.rng = random.Random(seed)
        self.answers: list[Answer] = []
        self.count = 0

    def next_request(self, brain: Brain) -> tuple[str, list[str], str]:
        self.count += 1
        reason = f"soak {self.tag} writer {self.index} #{self.count}"
        slot = self.rng.choice(SLOTS)
        numbers = [version.number for version in brain.list_versions(slot)]
        roll = self.rng.random()
        if roll < 0.35:
            return "promote", ["promote", slot, str(self.rng.choice(numbers)), "--force"], reason
        if roll < 0.6:
            to = ["--to", str(self.rng.choice(numbers))] if self.rng.random() < 0.5 else []
            return "rollback", ["rollback", slot, *to], reason
        verb = "approve" if self.rng.random() < 0.5 else "reject"
        pending = brain.list_queue(states=["pending"], limit=20) or brain.list_queue(limit=20)
        item = self.rng.choice(pending).id if pending else 1
        return f"queue.{verb}", ["queue", verb, str(item)], reason

    def run(self, stop: threading.Event) -> None:
        with open_brain(self.brain_url) as brain:  # only to choose targets; requests go through the CLI
            while not stop.is_set():
                action, argv, reason = self.next_request(brain)
                self.answers.append(run_cli(action, [*argv, "--reason", reason, "--json"], reason,
                                            self.brain_url, self.config))


def run_cli(action: str, argv: list[str], reason: str, brain_url: str, config: Path) -> Answer:
    env = {**os.environ, "HURACAN_BRAIN": brain_url}
    done = subprocess.run([str(BIN / "huracan"), "--config", str(config), *argv], env=env,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    return Answer(action, reason, tuple(argv), done.returncode, done.stdout, done.stderr)


def reader(brain_url: str, config: Path, stop: threading.Event, results: list[Answer]) -> None:
    commands = (["audit", "--json"], ["status", "--json"])
    while not stop.is_set():
        for argv in commands:
            results.append(run_cli(argv[0], argv, "", brain_url, config))


def run_concurrency(brain_url: str, workdir: Path, *, seconds: float, seed: int, writers: int = 4,
                    readers: int = 2, backend: str = "") -> ConcurrencyReport:
    """A leader and `writers` + `readers` CLI loops on a fresh brain for `seconds`; see the module doc."""
    rng = random.Random(seed)
    report = ConcurrencyReport(backend or brain_url.split(":", 1)[0])
    workdir.mkdir(parents=True, exist_ok=True)
    config = write_config(workdir / "concurrency.yaml", max_workers=1)
    tag = uuid.uuid4().hex[:8]
    with open_brain(brain_url) as brain:
        seed_concurrency_brain(brain)
        pool = LeaderPool(brain_url, config, workdir)
        stop = threading.Event()
        reads: list[Answer] = []
        team = [Writer(index, brain_url, config, tag, rng.randrange(2**32))
                for index in range(1, writers + 1)]
        threads = [threading.Thread(target=writer.run, args=(stop,), daemon=True) for writer in team]
        threads += [threading.Thread(target=reader, args=(brain_url, config, stop, reads), daemon=True)
                    for _ in range(readers)]
        try:
            pool.start()
            if not wait_for(lambda: brain.current_leader() is not None, REAP_TIMEOUT):
                report.failures["no leader took the lead"] += 1
            started = time.monotonic()
            for thread in threads:
                thread.start()
            while time.monotonic() - started < seconds:
                feed_queues(brain, rng)
                stop.wait(1.0)
            stop.set()
            for thread in threads:
                thread.join(timeout=600)
            report.seconds = time.monotonic() - started
            # Retrains that approvals queued are not waited for: the leader's stop interrupts and
            # queues them again, which the kill soak checks; here only the requests count.
        finally:
            stop.set()
            codes = pool.stop_all()
            kill_stray_workers(brain)
        report.failures.update("leader exited with code " + str(code) for code in codes.values() if code != 0)
        report.failures.update("traceback in a leader's log" for _ in pool.tracebacks())
        report.reads = len(reads)
        for answer in reads:
            judge_read(report, answer)
        rows = {request.args.get("reason"): request for request in brain.list_requests(limit=1_000_000)}
        for writer in team:
            for answer in writer.answers:
                judge_answer(report, brain, answer, rows.get(answer.reason))
        report.failures.update(f"{problem}" for problem in consistency_problems(brain))
    return report


def judge_read(report: ConcurrencyReport, answer: Answer) -> None:
    if LOCKED in answer.stdout + answer.stderr:
        report.failures[f"'{LOCKED}' surfaced ({answer.action})"] += 1
    if answer.code != 0:
        report.failures[f"{answer.action} --json exited {answer.code}"] += 1
        return
    try:
        json.loads(answer.stdout)
    except ValueError:
        report.failures[f"{answer.action} --json printed no JSON document"] += 1


ERROR_LINE = re.compile(r"^huracan: error: (?P<action>\S+) (?P<state>refused|failed|pending|running): "
                        r"(?P<outcome>.*)$", re.DOTALL)


def judge_answer(report: ConcurrencyReport, brain: Brain, answer: Answer, row) -> None:
    """Compare one writer's CLI answer with the operator-request row the brain recorded."""
    what = f"{answer.action} {' '.join(answer.argv[1:3])} ({answer.reason})"
    text = answer.stdout + answer.stderr
    if LOCKED in text:
        report.failures[f"'{LOCKED}' surfaced"] += 1
    if "Traceback" in text:
        report.failures[f"traceback from {answer.action}"] += 1
    if answer.code == 0:
        report.requests["done"] += 1
        _judge_done(report, brain, answer, row, what)
        return
    error = answer.stderr.strip().splitlines()[-1] if answer.stderr.strip() else ""
    matched = ERROR_LINE.match(error)
    if answer.code == 1 and matched:
        state = matched["state"]
        report.requests["unfinished within the wait" if state in ("pending", "running") else state] += 1
        if row is None:
            report.misreports.append(f"{what}: the CLI said {state}, the brain has no request")
        elif state in ("pending", "running"):
            if row.state == "done":  # honest at the time; the write did happen, which the user was not told
                report.failures["request done after the CLI stopped waiting"] += 1
        elif row.state == "done":
            report.lost_writes.append(f"{what}: the CLI said {state}, the brain did it (request {row.id})")
        elif row.state != state or row.outcome != matched["outcome"]:
            report.misreports.append(f"{what}: the CLI said {state}: {matched['outcome']!r}; "
                                     f"request {row.id} is {row.state}: {row.outcome!r}")
        return
    if answer.code == 2:  # bad input, refused before anything was written
        report.requests["bad input"] += 1
        if row is not None:
            report.misreports.append(f"{what}: the CLI said bad input ({error}), yet request {row.id} "
                                     f"is {row.state}")
        return
    report.requests[f"exit {answer.code}"] += 1
    report.failures[f"{answer.action} exited {answer.code}: {error[:80]}"] += 1
    if row is not None and row.state == "done":
        report.lost_writes.append(f"{what}: the CLI failed ({error}), the brain did it (request {row.id})")


def _judge_done(report: ConcurrencyReport, brain: Brain, answer: Answer, row, what: str) -> None:
    try:
        document = json.loads(answer.stdout)
    except ValueError:
        report.misreports.append(f"{what}: exit 0 without a JSON document")
        return
    if row is None:
        report.lost_writes.append(f"{what}: the CLI said done (request {document.get('request')}), "
                                  f"the brain has no such request")
        return
    if row.state != "done":
        report.lost_writes.append(f"{what}: the CLI said done, request {row.id} is "
                                  f"{row.state}: {row.outcome}")
        return
    if (document.get("request"), document.get("state"), document.get("outcome")) != (row.id, row.state,
                                                                                     row.outcome):
        report.misreports.append(f"{what}: the CLI said request {document.get('request')} "
                                 f"{document.get('state')}: {document.get('outcome')!r}; request {row.id} is "
                                 f"{row.state}: {row.outcome!r}")
    slot = answer.argv[1]
    result = row.result or {}
    if answer.action == "promote":
        promotions = {promotion.id: promotion for promotion in brain.promotion_history(slot)}
        if promotions.get(result.get("promotion")) is None or \
                promotions[result["promotion"]].reason != answer.reason:
            report.lost_writes.append(f"{what}: request {row.id} done, its promotion is not in the brain")
        shown = document.get("promotion") or {}
        if shown.get("id") != result.get("promotion"):
            report.misreports.append(f"{what}: the CLI showed promotion {shown.get('id')} "
                                     f"({shown.get('reason')!r}), request {row.id} made promotion "
                                     f"{result.get('promotion')}")
    elif answer.action == "rollback":
        rollbacks = {record.id: record for record in brain.list_rollbacks(slot, limit=100_000)}
        if rollbacks.get(result.get("rollback")) is None or \
                rollbacks[result["rollback"]].reason != answer.reason:
            report.lost_writes.append(f"{what}: request {row.id} done, its rollback is not in the brain")
    else:
        item = brain.get_queue_item(int(answer.argv[2]))
        if item.decision_reason != answer.reason:
            report.lost_writes.append(f"{what}: request {row.id} done, item {item.id} was decided with "
                                      f"{item.decision_reason!r}")


# ---- the script -----------------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_postgres_schema(base_url: str = POSTGRES_URL) -> Iterator[str]:
    """A brain URL on a brand-new schema of the server's database, dropped afterwards (as the
    tests' postgres_schema_url fixture does)."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(base_url)
    connect = dict(host=url.host, port=url.port or 5432, user=url.username, password=url.password,
                   dbname=url.database, autocommit=True, connect_timeout=3)
    schema = f"brain_soak_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(**connect) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{base_url}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(**connect) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@contextlib.contextmanager
def fresh_brain(backend: str, workdir: Path, name: str) -> Iterator[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    if backend == "sqlite":
        yield f"sqlite:///{workdir / f'{name}.db'}"
    else:
        with fresh_postgres_schema() as url:
            yield url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--kills", type=int, default=20, help="kills per backend")
    parser.add_argument("--seconds", type=float, default=300.0, help="length of the concurrency run")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: a fresh one)")
    parser.add_argument("--max-wait", type=float, default=4.0, help="most seconds before a kill")
    parser.add_argument("--workdir", type=Path, default=None, help="where brains and leader logs go")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    import tempfile

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="huracan-soak-"))
    print(f"seed {seed}; logs and SQLite brains under {workdir}", flush=True)
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    clean = True
    for backend in backends:
        if args.kills > 0:
            with fresh_brain(backend, workdir / backend, "kills") as url:
                kill_report = run_kill_soak(url, workdir / backend / "kills", kills=args.kills, seed=seed,
                                            max_wait=args.max_wait, backend=backend)
            print("\n".join(kill_report.lines()), flush=True)
            clean &= kill_report.clean
        if args.seconds > 0:
            with fresh_brain(backend, workdir / backend, "concurrency") as url:
                concurrency = run_concurrency(url, workdir / backend / "concurrency", seconds=args.seconds,
                                              seed=seed, backend=backend)
            print("\n".join(concurrency.lines()), flush=True)
            clean &= concurrency.clean
    print("soak: clean" if clean else "soak: PROBLEMS FOUND (see above)")
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
