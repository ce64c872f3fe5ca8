"""MLflow export speed: `huracan export mlflow` against the same runs logged with MLflow alone.

    .venv/bin/python benchmarks/bench_mlflow.py [--versions 500] [--slots 10] [--tracking-uri URI]

Data: a SQLite brain of `--versions` versions spread over `--slots` slots, made through the brain
API (`add_version`) with small fake artifacts (2 KiB), a manifest shaped like a trained one (spec,
params, library versions) and 6 metrics overall plus 6 per fold over 3 folds (24 rows a version).
Server: a real `mlflow server` on 127.0.0.1 (one worker, SQLite backend store, proxied
artifacts), started here unless `--tracking-uri` names one.

(a) Huracan: `scheduler.services.mlflow_export.export_to_mlflow` of the whole brain: per slot an
experiment and a registered model, per version a run (create with tags, `log_batch` of params and
metrics, the artifact and manifest.json as files, terminated), a registered model version, the
mapping row in the brain; the champion alias last.
(b) MLflow alone: the same entities, already built in memory (no brain reads), sent by
`MlflowClient` with the same calls in the same order to another experiment / model name.
Then (c): exporting again (nothing new: what the leader's schedule entry costs when idle).
`--rounds` pairs, each on a brain of its own (new slots, so new experiments), the order of (a)
and (b) alternated since the server's database grows; prints each time, the per-version cost
and the ratio (a)/(b) per round and their median; target <= 1.3x.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from brain import open_brain  # noqa: E402
from scheduler.services.mlflow_export import (  # noqa: E402
    CHAMPION_ALIAS,
    artifact_file_name,
    client_defaults,
    export_to_mlflow,
    version_metrics,
    version_params,
    version_tags,
)

METRICS = ("mae", "rmse", "hit_rate", "ic", "sharpe", "n")


def make_brain(url: str, versions: int, slots: int, prefix: str = "SYM") -> None:
    with open_brain(url) as brain:
        keys = []
        for index in range(slots):
            keys.append(brain.ensure_slot(f"{prefix}{index:03d}", "1d", "fwd_ret_1", 1).key)
        for n in range(versions):
            key = keys[n % slots]
            manifest = {
                "model_kind": "lightgbm", "seed": n, "cadence": "full", "cost_bps": 1.0, "horizon": 1,
                "features": ["ret_1", "log_ret_1", "ret_5", "vol_20", "sma_20_ratio", "rsi_14"],
                "params": {"n_estimators": 40, "learning_rate": 0.05, "num_leaves": 15, "seed": n},
                "library_versions": {"lightgbm": "4.6.0", "numpy": "2.4.6"},
                "spec": {"model": {"kind": "lightgbm", "params": {"n_estimators": 40}, "seed": n},
                         "target": {"kind": "fwd_ret", "horizon": 1, "threshold_bps": 0.0},
                         "features": {"recipe": "core"}, "preprocessing": [], "alt": []},
                "spec_sha256": f"{n:064x}", "artifact_format": "lightgbm-text",
            }
            rows = [{"name": name, "value": 0.1 * (i + 1) + n * 1e-4, "fold": fold}
                    for fold in (None, 0, 1, 2) for i, name in enumerate(METRICS)]
            brain.add_version(key, model_kind="lightgbm", manifest=manifest,
                              artifact=os.urandom(2048), artifact_format="lightgbm-text", metrics=rows,
                              data_start=None, data_end=None)
        for key in keys:
            brain.promote_version(key, 1, actor="bench", reason="first")


def mlflow_alone(client, url: str, workdir: Path) -> float:
    """The same runs, entities built beforehand, sent with MlflowClient only."""
    from mlflow.entities import Param

    with open_brain(url) as brain:
        plan = []
        for slot in brain.list_slots():
            entries = []
            for version in brain.list_versions(slot.key):
                params = [Param(k, v) for k, v in version_params(version.manifest).items()]
                entries.append((version, version_tags(slot.key, version, "bench"), params,
                                version_metrics(brain.version_metrics(version.id)),
                                brain.load_artifact(version.artifact_sha256)))
            plan.append((slot.key, entries, brain.champion(slot.key).number))
    tag = uuid.uuid4().hex[:8]  # a server given with --tracking-uri may hold an earlier run's
    start = time.perf_counter()
    for key, entries, champion in plan:
        experiment_id = client.create_experiment(f"baseline-{tag}/{key}")
        name = f"baseline-{tag}." + key.replace(":", ".")
        client.create_registered_model(name)
        numbers = {}
        for version, tags, params, metrics, artifact in entries:
            run = client.create_run(experiment_id, start_time=int(version.created_at.timestamp() * 1000),
                                    tags=tags, run_name=f"v{version.number} {version.model_kind}")
            run_id = run.info.run_id
            client.log_batch(run_id, metrics=metrics, params=params)
            folder = workdir / run_id
            (folder / "model").mkdir(parents=True)
            model_file = folder / "model" / artifact_file_name(version)
            model_file.write_bytes(artifact)
            client.log_artifact(run_id, str(model_file), "model")
            manifest_file = folder / "manifest.json"
            manifest_file.write_text(json.dumps(version.manifest, indent=1, sort_keys=True, default=str))
            client.log_artifact(run_id, str(manifest_file))
            client.set_terminated(run_id, "FINISHED")
            made = client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id,
                                               await_creation_for=0)
            numbers[version.number] = made.version
        client.set_registered_model_alias(name, CHAMPION_ALIAS, str(numbers[champion]))
    return time.perf_counter() - start


def start_server(folder: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
         "--artifacts-destination", str(folder / "artifacts")],
        cwd=folder, stdout=(folder / "server.log").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"mlflow server exited; see {folder / 'server.log'}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return server, url
        except OSError:
            time.sleep(0.2)  # a script waiting for a server to come up, not a test
    raise SystemExit("mlflow server did not answer /health in 300 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=500)
    parser.add_argument("--slots", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="pairs of runs, order alternated")
    parser.add_argument("--tracking-uri", help="an existing server (default: start one here)")
    args = parser.parse_args()
    client_defaults()
    from mlflow import MlflowClient

    with tempfile.TemporaryDirectory(prefix="bench-mlflow-") as tmp:
        folder = Path(tmp)
        server = None
        if args.tracking_uri:
            uri = args.tracking_uri
        else:
            server, uri = start_server(folder)
        try:
            client = MlflowClient(uri)
            n = args.versions
            rows = []
            for round_ in range(args.rounds):
                # A brain of its own each round (new slot names: new experiments), order alternated,
                # as the server's database grows with every round.
                url = f"sqlite:///{folder / f'brain{round_}.db'}"
                t0 = time.perf_counter()
                make_brain(url, n, args.slots, prefix=f"R{round_}S")
                made = time.perf_counter() - t0
                print(f"round {round_ + 1}: brain of {n} versions over {args.slots} slots in {made:.1f} s")
                work = folder / f"work{round_}"
                work.mkdir()

                def ours(url=url):
                    with open_brain(url) as brain:
                        t0 = time.perf_counter()
                        report = export_to_mlflow(brain, uri, huracan_version="bench")
                        took = time.perf_counter() - t0
                        t0 = time.perf_counter()
                        again = export_to_mlflow(brain, uri, huracan_version="bench")
                        idle = time.perf_counter() - t0
                    assert report.runs_created == n and again.runs_created == 0
                    return took, idle

                if round_ % 2 == 0:
                    baseline = mlflow_alone(client, url, work)
                    huracan, idle = ours()
                else:
                    huracan, idle = ours()
                    baseline = mlflow_alone(client, url, work)
                rows.append((baseline, huracan, idle))
                print(f"  (b) MLflow alone: {baseline:7.2f} s ({1000 * baseline / n:5.1f} ms/version)   "
                      f"(a) huracan: {huracan:7.2f} s ({1000 * huracan / n:5.1f} ms/version)   "
                      f"ratio {huracan / baseline:.2f}x   (c) again: {idle:.2f} s")
            baseline, huracan = (statistics.median(row[i] for row in rows) for i in (0, 1))
            print(f"median of {len(rows)}: (b) {baseline:.2f} s, (a) {huracan:.2f} s, "
                  f"ratio (a)/(b) {huracan / baseline:.2f}x (target <= 1.3x); "
                  f"total (a) {sum(r[1] for r in rows):.1f} s / (b) {sum(r[0] for r in rows):.1f} s = "
                  f"{sum(r[1] for r in rows) / sum(r[0] for r in rows):.2f}x")
        finally:
            if server is not None:
                os.killpg(server.pid, 15)
                server.wait(timeout=30)


if __name__ == "__main__":
    main()
