"""`huracan export mlflow` against a real `mlflow server` on 127.0.0.1 (SQLite backend store,
proxied artifacts), read back with MLflow's own client: a run per version with its params,
per-fold metric history, tags and artifact; a registered model per slot whose `champion` alias
follows promotions and rollbacks; exporting again adds nothing; a run a killed export left is
recovered, not duplicated; the leader's `mlflow` schedule entry mirrors the same way; an
unreachable server or a password in the URI is one line, exit 2, nothing recorded."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from mlflow import MlflowClient
from sqlalchemy import func, select

from brain import open_brain
from brain.schema import mlflow_models, mlflow_runs
from huracan_tui.cli import main as cli
from scheduler.config import HuracanConfig, MlflowConfig
from scheduler.services.mlflow_export import (
    CHAMPION_ALIAS,
    experiment_name,
    export_to_mlflow,
    registered_model_name,
)
from tests.conftest import sqlite_url
from tests.waiting import wait_until

GOOG = "GOOG:1d:fwd_ret_1"
EURUSD = "EURUSD:1h:fwd_ret_1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A real tracking server (one worker), started once for the module and stopped after it."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
         "--artifacts-destination", str(folder / "artifacts")],
        cwd=folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"},
    )
    try:
        wait_until(lambda: server.poll() is not None or _answers(url), 240, "mlflow server /health")
        assert server.poll() is None, (folder / "server.log").read_text(errors="replace")[-2000:]
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, 15)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
            server.wait()
        log.close()


def huracan(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.run(list(args))
    return code, out.getvalue(), err.getvalue()


def export(url: str, brain_url: str, *slots: str) -> dict:
    code, out, err = huracan("export", "mlflow", "--brain", brain_url, "--tracking-uri", url,
                             *[part for slot in slots for part in ("--slot", slot)], "--json")
    assert code == 0, err
    return json.loads(out)


def runs_of(client: MlflowClient, slot: str):
    experiment = client.get_experiment_by_name(experiment_name(slot))
    runs = client.search_runs([experiment.experiment_id])
    return sorted(runs, key=lambda run: int(run.data.tags["huracan.version"]))


def alias_target(client: MlflowClient, slot: str) -> int:
    """The huracan version the `champion` alias points at, read through MLflow only."""
    version = client.get_model_version_by_alias(registered_model_name(slot), CHAMPION_ALIAS)
    return int(client.get_run(version.run_id).data.tags["huracan.version"])


def mapping_counts(brain_url: str) -> tuple[int, int]:
    with open_brain(brain_url) as brain, brain._read() as conn:
        return tuple(conn.execute(select(func.count()).select_from(table)).scalar_one()
                     for table in (mlflow_runs, mlflow_models))


def test_export_mirrors_runs_and_the_champion_alias_follows_the_lifecycle(mlflow_server, seeded_brain_url,
                                                                          tmp_path):
    client = MlflowClient(mlflow_server)
    with open_brain(seeded_brain_url) as brain:
        brain.promote_version(GOOG, 1, actor="tester", reason="first")
        versions = {v.number: v for v in brain.list_versions(GOOG)}
        metrics = {n: brain.version_metrics(v.id) for n, v in versions.items()}
        artifacts = {n: brain.load_artifact(v.artifact_sha256) for n, v in versions.items()}

    first = export(mlflow_server, seeded_brain_url, GOOG)
    (slot,) = first["slots"]
    assert (first["runs_created"], slot["champion"], slot["alias_moved"]) == (2, 1, True)
    assert slot["registered_model"] == "huracan.GOOG.1d.fwd_ret_1"

    runs = runs_of(client, GOOG)
    assert [run.data.tags["huracan.version"] for run in runs] == ["1", "2"]
    for run in runs:
        number = int(run.data.tags["huracan.version"])
        version = versions[number]
        assert run.info.status == "FINISHED" and run.info.run_name == f"v{number} {version.model_kind}"
        assert {key: run.data.tags[key] for key in ("huracan.slot", "huracan.kind", "huracan.artifact_sha256",
                                                     "huracan.version_id")} == {
            "huracan.slot": GOOG, "huracan.kind": version.model_kind,
            "huracan.artifact_sha256": version.artifact_sha256, "huracan.version_id": str(version.id)}
        params = run.data.params
        assert params["model_kind"] == version.model_kind and params["spec.model.kind"] == version.model_kind
        assert params["seed"] == str(version.manifest["seed"])
        assert params["spec_sha256"] == version.manifest["spec_sha256"]
        assert {key.removeprefix("params.") for key in params if key.startswith("params.")} == set(
            version.manifest["params"])
        overall = {m.name: m.value for m in metrics[number] if m.fold is None and m.scope == "oos"}
        assert run.data.metrics["sharpe"] == pytest.approx(overall["sharpe"])
        folds = sorted((m.fold, m.value) for m in metrics[number]
                       if m.name == "sharpe" and m.fold is not None)
        history = client.get_metric_history(run.info.run_id, "fold/sharpe")
        assert sorted((point.step, point.value) for point in history) == pytest.approx(folds)
        assert [point.step for point in sorted(history, key=lambda p: p.step)] == [0, 1, 2]
        (model_file,) = client.list_artifacts(run.info.run_id, "model")
        fetched = Path(client.download_artifacts(run.info.run_id, model_file.path, str(tmp_path)))
        assert fetched.read_bytes() == artifacts[number]
        manifest = json.loads(Path(client.download_artifacts(run.info.run_id, "manifest.json",
                                                             str(tmp_path))).read_text())
        assert manifest["artifact_sha256"] == version.artifact_sha256
    model_versions = client.search_model_versions(f"name = '{registered_model_name(GOOG)}'")
    assert sorted(mv.run_id for mv in model_versions) == sorted(run.info.run_id for run in runs)
    assert alias_target(client, GOOG) == 1

    again = export(mlflow_server, seeded_brain_url, GOOG)
    assert (again["runs_created"], again["slots"][0]["runs_present"],
            again["slots"][0]["alias_moved"]) == (0, 2, False)
    assert len(runs_of(client, GOOG)) == 2
    assert len(client.search_model_versions(f"name = '{registered_model_name(GOOG)}'")) == 2

    with open_brain(seeded_brain_url) as brain:
        brain.promote_version(GOOG, 2, actor="tester", reason="better", force=True)
    moved = export(mlflow_server, seeded_brain_url, GOOG)
    assert (moved["runs_created"], moved["slots"][0]["champion"],
            moved["slots"][0]["alias_moved"]) == (0, 2, True)
    assert alias_target(client, GOOG) == 2

    with open_brain(seeded_brain_url) as brain:
        brain.rollback(GOOG, actor="tester", reason="worse live")
    back = export(mlflow_server, seeded_brain_url, GOOG)
    assert back["slots"][0]["champion"] == 1 and alias_target(client, GOOG) == 1
    assert len(runs_of(client, GOOG)) == 2 and mapping_counts(seeded_brain_url) == (2, 1)


def test_runs_a_killed_export_left_are_recovered_not_duplicated(mlflow_server, seeded_brain_template,
                                                                tmp_path):
    client = MlflowClient(mlflow_server)
    first_url, second_url = (sqlite_url(shutil.copy(seeded_brain_template, tmp_path / name))
                             for name in ("a.db", "b.db"))
    with open_brain(first_url) as brain:
        export_to_mlflow(brain, mlflow_server, slots=[EURUSD])
        v1 = brain.get_version(EURUSD, 1)
    (run1, run2) = runs_of(client, EURUSD)
    # A second export of v1 killed halfway: its run is there, unfinished.
    half = client.create_run(run1.info.experiment_id, tags={
        "huracan.slot": EURUSD, "huracan.version": "1", "huracan.artifact_sha256": v1.artifact_sha256})
    client.delete_run(run1.info.run_id)  # and the finished one went missing, deleted in MLflow's UI
    with open_brain(second_url) as brain:  # a brain that never recorded the export
        report = export_to_mlflow(brain, mlflow_server, slots=[EURUSD])
    (slot,) = report.slots
    assert (slot.runs_created, slot.runs_adopted, slot.runs_present) == (1, 1, 0)
    live = runs_of(client, EURUSD)
    assert len(live) == 2 and run2.info.run_id in {run.info.run_id for run in live}
    assert half.info.run_id not in {run.info.run_id for run in live}
    assert all(run.info.status == "FINISHED" for run in live)
    assert mapping_counts(second_url) == (2, 1)


def test_the_leader_mirrors_on_its_schedule_and_shrugs_off_a_dead_server(mlflow_server, seeded_brain_url,
                                                                         caplog):
    from scheduler.daemon.headless import Leader

    slot = EURUSD  # GOOG is the first test's: whatever ran before, this one finds the same runs
    config = HuracanConfig(mlflow=MlflowConfig(tracking_uri="http://127.0.0.1:1", mirror_every="5m"))
    with open_brain(seeded_brain_url) as brain:
        leader = Leader(brain, config, executor=None, feeds=[])
        (entry,) = [entry for entry in leader.schedule_entries() if entry.name == "mlflow"]
        assert entry.every == 300.0
        assert entry.run() is None and "did not answer" in caplog.text
        assert mapping_counts(seeded_brain_url) == (0, 0)
        leader.config = HuracanConfig(mlflow=MlflowConfig(tracking_uri=mlflow_server, slots=[slot]))
        report = leader.mirror_mlflow()
        assert [item.slot for item in report.slots] == [slot] and mapping_counts(seeded_brain_url) == (2, 1)
    unconfigured = Leader(None, HuracanConfig(), None, feeds=[])
    assert "mlflow" not in [entry.name for entry in unconfigured.schedule_entries()]


def test_an_unreachable_server_is_one_line_exit_2_and_nothing_recorded(seeded_brain_url):
    code, out, err = huracan("export", "mlflow", "--brain", seeded_brain_url,
                             "--tracking-uri", "http://127.0.0.1:1")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "huracan: error: MLflow tracking server http://127.0.0.1:1 did not answer: connection refused"]
    assert mapping_counts(seeded_brain_url) == (0, 0)


def test_a_password_in_the_uri_is_refused_before_anything_is_sent(seeded_brain_url, tmp_path):
    code, out, err = huracan("export", "mlflow", "--brain", seeded_brain_url,
                             "--tracking-uri", "https://alice:s3cret@mlflow.example.com")
    assert code == 2 and "s3cret" not in err and len(err.strip().splitlines()) == 1
    assert "MLFLOW_TRACKING_PASSWORD" in err and mapping_counts(seeded_brain_url) == (0, 0)
    config = tmp_path / "huracan.yaml"
    config.write_text("mlflow:\n  tracking_uri: http://bob:pw@127.0.0.1:5000\n", encoding="utf-8")
    code, _, err = huracan("export", "mlflow", "--brain", seeded_brain_url, "--config", str(config))
    assert code == 2 and "mlflow.tracking_uri" in err and "pw@" not in err
