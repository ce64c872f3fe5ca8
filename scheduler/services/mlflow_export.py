"""Mirror the brain's versions to an MLflow tracking server (`huracan export mlflow`, the leader's
`mlflow` schedule entry).

What MLflow gets, per slot: an experiment `huracan/SLOT` (one per slot, so MLflow's run
comparison compares a slot's versions with each other) and a registered model `huracan.SLOT`
(`:` is not allowed in a model name: `huracan.GOOG.1d.fwd_ret_1`). Per version: a run named
`vN KIND`, started at the version's training time, with
  - params: the manifest's scalar fields, the model params (`params.*`), the spec flattened
    (`spec.*`) and the library versions (`lib.*`); lists as JSON; a value is cut to MLflow's
    6,000 characters (the whole manifest is an artifact beside it);
  - metrics: the overall out-of-sample ones under their names, and each fold's as `fold/NAME`
    with step = the fold's index (MLflow draws those as a curve over the folds);
  - tags: `huracan.slot`, `huracan.version`, `huracan.kind`, `huracan.version_id`,
    `huracan.artifact_sha256`, `huracan.status` (at export time), `huracan.huracan_version`;
  - artifacts: `model/<the artifact file>` (its sha256 checked on the way out of the brain) and
    `manifest.json`;
  - a registered model version from `model/`, and the model's `champion` alias on the version
    the slot serves now: it follows promotions and rollbacks, each export moving it if it changed.

Idempotent: the brain keeps (per tracking URI) which versions are done and where the alias is
(brain/mlflow_exports.py), written after each run is complete, so exporting again adds only new
versions and moves the alias only when the champion changed. A run left half-made by a process
killed mid-export is found again by its tags (slot, number, artifact sha256): finished, it is
adopted; unfinished, deleted and made anew.

Credentials come from the environment, the way MLflow reads them (MLFLOW_TRACKING_TOKEN,
MLFLOW_TRACKING_USERNAME / _PASSWORD): a URI carrying a password is refused. MLflow's HTTP client
retries for minutes by default; unless the environment says otherwise, one retry and a short
timeout make an unreachable server one quick, clear error.

`mlflow` is imported inside the functions: the console never loads it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from brain import Brain
from brain.records import MetricRecord, VersionRecord

EXPERIMENT_PREFIX = "huracan/"
MODEL_PREFIX = "huracan."
CHAMPION_ALIAS = "champion"
MAX_PARAM_VALUE = 6000  # mlflow.utils.validation.MAX_PARAM_VAL_LENGTH
MAX_KEY = 250  # MAX_ENTITY_KEY_LENGTH
PARAMS_PER_BATCH = 100  # MAX_PARAMS_TAGS_PER_BATCH (metrics: 1000, all entities: 1000)
METRICS_PER_BATCH = 800  # so one batch stays under 1000 entities with its 100 params or tags
# Of the manifest: what is logged otherwise (metrics, folds), or flattened under its own prefix.
_NOT_PARAMS = ("metrics", "folds", "params", "spec", "library_versions", "artifact_sha256")
# File names in MLflow say what a file is (catboost and others: the format's name as it stands).
_EXTENSIONS = {"skops": "skops", "lightgbm-text": "txt", "xgboost-ubj": "ubj", "torch-state-dict": "pt",
               "river-json": "json", "ensemble-json": "json"}


class MlflowExportError(Exception):
    """An export that could not be done (or finished), worded as one line."""


@dataclass(frozen=True)
class SlotExport:
    """What one export did to one slot."""

    slot: str
    experiment_id: str
    registered_model: str
    runs_created: int  # versions exported now
    runs_adopted: int  # versions a killed export had finished, found by their tags
    runs_present: int  # versions an earlier export had done
    champion: int | None  # the version the `champion` alias points at now
    alias_moved: bool


@dataclass(frozen=True)
class MlflowExportReport:
    tracking_uri: str
    slots: tuple[SlotExport, ...]

    @property
    def runs_created(self) -> int:
        return sum(item.runs_created for item in self.slots)

    @property
    def aliases_moved(self) -> int:
        return sum(item.alias_moved for item in self.slots)


# ---- the tracking URI ---------------------------------------------------------------------------


def checked_tracking_uri(uri: str, where: str = "--tracking-uri") -> str:
    """`uri` as the brain's mapping keys it (no trailing slash), refused when it carries a password."""
    uri = uri.strip()
    if not uri:
        raise MlflowExportError(f"{where}: empty; give the tracking server's URI (http://host:5000)")
    parts = urlsplit(uri)
    if parts.password is not None or (parts.username and parts.scheme in ("http", "https")):
        raise MlflowExportError(
            f"{where}: the URI carries credentials; give them in the environment instead "
            "(MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD)")
    return uri.rstrip("/") if parts.scheme in ("http", "https") else uri


def client_defaults(timeout: float = 10.0, retries: int = 1) -> None:
    """Bound MLflow's HTTP client (its defaults: 7 retries with backoff, 120 s timeout) unless the
    environment already says how; process-wide, as MLflow reads them from the environment. And no
    "View run at" line on stdout per run (it would break `--json`, and costs a request each)."""
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(retries))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(max(timeout, 1))))


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    if len(text) <= 300:
        return text
    first = text[:300].rsplit(". ", 1)[0]  # whole sentences where there are some
    return (first if len(first) > 40 else text[:297]) + "..."


def connect(tracking_uri: str, *, timeout: float = 10.0, retries: int = 1):
    """An MlflowClient on `tracking_uri` that answered one request, or MlflowExportError."""
    client_defaults(timeout, retries)
    from mlflow import MlflowClient

    try:  # a store MLflow will not open (its retired file store, a bad scheme) fails here
        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    except Exception as error:
        raise MlflowExportError(f"MLflow tracking URI {tracking_uri} cannot be used: "
                                f"{_reason(error)}") from None
    try:
        client.search_experiments(max_results=1)
    except Exception as error:  # connection refused, DNS, TLS, 401/403, a bad store URI...
        raise MlflowExportError(f"MLflow tracking server {tracking_uri} did not answer: "
                                f"{_reason(error)}") from None
    return client


def _reason(error: BaseException) -> str:
    """The cause a person can act on, not MLflow's whole chain of wrapped exceptions."""
    text = " ".join(str(error).split())
    for marker, reason in (("Connection refused", "connection refused"),
                           ("Name or service not known", "unknown host"),
                           ("timed out", "timed out"), ("Max retries exceeded", "no connection")):
        if marker in text:
            return reason
    return _one_line(error)


# ---- what a version becomes -------------------------------------------------------------------


def experiment_name(slot_key: str) -> str:
    return EXPERIMENT_PREFIX + slot_key


def registered_model_name(slot_key: str) -> str:
    """MLflow refuses `/`, `:` and `%` in a registered model's name."""
    return MODEL_PREFIX + "".join("." if c == ":" else "_" if c in "/%\\" else c for c in slot_key)


def _param_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= MAX_PARAM_VALUE else text[:MAX_PARAM_VALUE - 1] + "…"


def _flatten(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            yield from _flatten(f"{prefix}.{key}" if prefix else str(key), item)
    else:
        yield prefix, value


def _safe_key(key: str) -> str:
    # MLflow keys: alphanumerics, `_ - . / space`; anything else becomes `_`.
    key = "".join(c if c.isalnum() or c in "_-./ " else "_" for c in key)
    return key[:MAX_KEY]


def version_params(manifest: Mapping[str, Any]) -> dict[str, str]:
    """The manifest as MLflow params: its scalar fields, `params.*`, `spec.*`, `lib.*`."""
    pairs: list[tuple[str, Any]] = [(key, value) for key, value in manifest.items() if key not in _NOT_PARAMS]
    pairs += _flatten("params", manifest.get("params") or {})
    pairs += _flatten("spec", manifest.get("spec") or {})
    pairs += _flatten("lib", manifest.get("library_versions") or {})
    params: dict[str, str] = {}
    for key, value in pairs:
        if value is None or value == {} or key in ("params", "spec", "lib"):
            continue
        params.setdefault(_safe_key(key), _param_value(value))
    return params


def version_tags(slot_key: str, version: VersionRecord, huracan_version: str) -> dict[str, str]:
    return {
        "huracan.slot": slot_key, "huracan.version": str(version.number), "huracan.kind": version.model_kind,
        "huracan.version_id": str(version.id), "huracan.artifact_sha256": version.artifact_sha256,
        "huracan.status": version.status, "huracan.huracan_version": huracan_version,
    }


def version_metrics(metrics: Sequence[MetricRecord]):
    """Out-of-sample metrics as MLflow metrics: overall under their names (step 0), each fold's
    as `fold/NAME` with step = fold index. A NaN stays NaN (MLflow stores it as such)."""
    from mlflow.entities import Metric

    out = []
    for record in metrics:
        if record.scope != "oos":
            continue
        value = float("nan") if record.value is None else float(record.value)
        timestamp = int(record.ts.timestamp() * 1000)
        if record.fold is None:
            out.append(Metric(_safe_key(record.name), value, timestamp, 0))
        else:
            out.append(Metric(_safe_key(f"fold/{record.name}"), value, timestamp, int(record.fold)))
    return out


def artifact_file_name(version: VersionRecord) -> str:
    fmt = str(version.manifest.get("artifact_format") or "bin")
    return f"{version.model_kind}-v{version.number}.{_EXTENSIONS.get(fmt, fmt)}"


def log_version_run(client, experiment_id: str, slot_key: str, version: VersionRecord, *,
                    metrics: Sequence[MetricRecord], artifact: bytes, huracan_version: str,
                    workdir: Path) -> str:
    """One version as a finished MLflow run (params, metrics, tags in batches; the artifact and
    the manifest as files); returns the run id. The benchmark times exactly this against MLflow
    alone."""
    from mlflow.entities import Param

    tags = version_tags(slot_key, version, huracan_version)
    run = client.create_run(experiment_id, start_time=int(version.created_at.timestamp() * 1000),
                            tags=tags, run_name=f"v{version.number} {version.model_kind}")
    run_id = run.info.run_id
    params = [Param(key, value) for key, value in version_params(version.manifest).items()]
    logged = version_metrics(metrics)
    param_chunks = [params[i:i + PARAMS_PER_BATCH] for i in range(0, len(params), PARAMS_PER_BATCH)]
    metric_chunks = [logged[i:i + METRICS_PER_BATCH] for i in range(0, len(logged), METRICS_PER_BATCH)]
    nothing: list[Any] = []
    for batch_params, batch_metrics in zip_longest(param_chunks, metric_chunks, fillvalue=nothing):
        client.log_batch(run_id, metrics=batch_metrics, params=batch_params)
    folder = workdir / run_id
    (folder / "model").mkdir(parents=True)
    model_file = folder / "model" / artifact_file_name(version)
    model_file.write_bytes(artifact)
    client.log_artifact(run_id, str(model_file), "model")
    manifest_file = folder / "manifest.json"
    manifest_file.write_text(json.dumps(version.manifest, indent=1, sort_keys=True, default=str),
                             encoding="utf-8")
    client.log_artifact(run_id, str(manifest_file))
    client.set_terminated(run_id, "FINISHED")
    return run_id


# ---- the export -------------------------------------------------------------------------------


def export_to_mlflow(brain: Brain, tracking_uri: str, *, slots: Sequence[str] | None = None,
                     huracan_version: str | None = None, timeout: float = 10.0, retries: int = 1,
                     client=None) -> MlflowExportReport:
    """Mirror `slots` (default: every slot) to `tracking_uri`; only what is new is sent."""
    tracking_uri = checked_tracking_uri(tracking_uri)
    keys = list(slots) if slots else [slot.key for slot in brain.list_slots()]
    for key in keys:
        if brain.get_slot(key) is None:
            raise MlflowExportError(f"slot {key}: not in the brain")
    client = client or connect(tracking_uri, timeout=timeout, retries=retries)
    huracan_version = huracan_version or installed_version()
    with tempfile.TemporaryDirectory(prefix="huracan-mlflow-") as workdir:
        done = tuple(_export_slot(brain, client, tracking_uri, key, huracan_version, Path(workdir))
                     for key in keys)
    return MlflowExportReport(tracking_uri, done)


def installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("huracan")
    except PackageNotFoundError:
        return "unknown"


def _failed(what: str, error: BaseException) -> MlflowExportError:
    return MlflowExportError(f"{what}: {_reason(error)}")


def _export_slot(brain: Brain, client, tracking_uri: str, slot_key: str, huracan_version: str,
                 workdir: Path) -> SlotExport:
    from mlflow.exceptions import MlflowException

    known = brain.mlflow_model(tracking_uri, slot_key)
    try:
        experiment_id = known.experiment_id if known else _experiment(client, slot_key)
        model = known.registered_model if known else _registered_model(client, slot_key)
    except MlflowException as error:
        raise _failed(f"{slot_key}: could not make its experiment or registered model", error) from None
    if known is None:
        brain.record_mlflow_model(tracking_uri, slot_key, experiment_id=experiment_id,
                                  registered_model=model, champion_number=None)
    exported = brain.mlflow_runs(tracking_uri, slot_key)
    versions = [v for v in brain.list_versions(slot_key) if v.id not in exported]
    left_over = _runs_by_identity(client, experiment_id, slot_key) if versions else {}
    created = adopted = 0
    model_versions = {item.number: item.model_version for item in exported.values()}
    for version in versions:
        what = f"{slot_key} v{version.number}"
        try:
            run_id = _left_over_run(client, left_over.get((version.number, version.artifact_sha256)))
            fresh = run_id is None
            if run_id is None:
                run_id = log_version_run(
                    client, experiment_id, slot_key, version, metrics=brain.version_metrics(version.id),
                    artifact=brain.load_artifact(version.artifact_sha256),
                    huracan_version=huracan_version, workdir=workdir)
                created += 1
            else:
                adopted += 1
            # A run made just now has no model version yet: only an adopted one is looked up.
            model_version = _model_version(client, model, run_id, version, look_first=not fresh)
        except MlflowException as error:
            raise _failed(f"{what}: MLflow refused it", error) from None
        except OSError as error:
            raise _failed(f"{what}: MLflow did not answer", error) from None
        brain.record_mlflow_run(tracking_uri, version.id, experiment_id=experiment_id, run_id=run_id,
                                model_version=model_version)
        model_versions[version.number] = model_version
    champion = brain.champion(slot_key)
    number = None if champion is None else champion.number
    last = known.champion_number if known else None
    moved = number != last
    if moved:
        try:
            if number is None:
                client.delete_registered_model_alias(model, CHAMPION_ALIAS)
            else:
                client.set_registered_model_alias(model, CHAMPION_ALIAS, str(model_versions[number]))
        except MlflowException as error:
            raise _failed(f"{slot_key}: could not move its {CHAMPION_ALIAS} alias", error) from None
        brain.record_mlflow_model(tracking_uri, slot_key, experiment_id=experiment_id,
                                  registered_model=model, champion_number=number)
    return SlotExport(slot_key, experiment_id, model, created, adopted, len(exported), number, moved)


def _experiment(client, slot_key: str) -> str:
    name = experiment_name(slot_key)
    found = client.get_experiment_by_name(name)
    if found is None:
        return client.create_experiment(name, tags={"huracan.slot": slot_key})
    if found.lifecycle_stage == "deleted":  # deleted in MLflow's UI: brought back, not duplicated
        client.restore_experiment(found.experiment_id)
    return found.experiment_id


def _registered_model(client, slot_key: str) -> str:
    from mlflow.exceptions import MlflowException

    name = registered_model_name(slot_key)
    try:
        client.get_registered_model(name)
    except MlflowException as error:
        if error.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        client.create_registered_model(name, tags={"huracan.slot": slot_key},
                                       description=f"Huracan slot {slot_key}: one version per trained model; "
                                                   f"`{CHAMPION_ALIAS}` is the one it serves")
    return name


def _runs_by_identity(client, experiment_id: str, slot_key: str) -> dict[tuple[int, str], Any]:
    """Runs of this slot already on the server, by (version number, artifact sha256): what a
    killed export left, or another brain holding the same models made."""
    found: dict[tuple[int, str], Any] = {}
    token = None
    slot_filter = slot_key.replace("'", "\\'")
    while True:
        page = client.search_runs([experiment_id], f"tags.`huracan.slot` = '{slot_filter}'",
                                  max_results=1000, page_token=token)
        for run in page:
            tags = run.data.tags
            try:
                found.setdefault((int(tags["huracan.version"]), tags["huracan.artifact_sha256"]), run)
            except (KeyError, ValueError):
                continue
        token = page.token
        if not token:
            return found


def _left_over_run(client, run) -> str | None:
    if run is None:
        return None
    if run.info.status == "FINISHED":
        return run.info.run_id
    client.delete_run(run.info.run_id)  # half made by a killed export: made again, whole
    return None


def _model_version(client, model: str, run_id: str, version: VersionRecord, *, look_first: bool) -> str:
    if look_first:
        existing = client.search_model_versions(f"name = '{model}' and run_id = '{run_id}'")
        if existing:
            return str(existing[0].version)
    made = client.create_model_version(
        model, f"runs:/{run_id}/model", run_id=run_id, await_creation_for=0,
        tags={"huracan.version": str(version.number), "huracan.kind": version.model_kind,
              "huracan.artifact_sha256": version.artifact_sha256})
    return str(made.version)
