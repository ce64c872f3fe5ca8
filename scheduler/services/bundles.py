"""Moving a slot's versions between brains (SQLite and PostgreSQL alike) as a bundle: a folder
of plain files and an index, `bundle.json`, that lists every file with its sha256 and size.

  bundle.json                      the index (BundleIndex)
  history.json                     the slot's champion and lifecycle: promotions, rollbacks, prunes
  versions/v3/version.json         the version's row: number, kind, status, times, notes
  versions/v3/manifest.json        its manifest, as the brain stores it (artifact sha256 included)
  versions/v3/spec.json            its spec (the manifest's, on its own to read)
  versions/v3/metrics.json         every metric row of every scope (oos, live...), with its time
  versions/v3/model.<format>       the artifact's bytes
  versions/v3/preprocessing.skops  the fitted preprocessing artifact, where the version has one
  versions/v3/oos_predictions.csv  its walk-forward out-of-sample rows (fold, ts, prediction, next_ret)

Exporting reads the brain only (artifacts sha256-checked as they are read) and writes the folder
whole or not at all (it is assembled beside its destination and renamed into place). An
ensemble's member versions always travel with it: they are added to the selection.

Importing verifies everything first (`read_bundle`): every file against the index, each
manifest's artifact sha256 against its file, each manifest readable, each ensemble's members in
the bundle. Only then is anything written, in one transaction (brain.bundles.import_versions).
Versions keep their numbers in a slot that has none yet, else follow its newest; a version the
slot already holds (same artifact, same spec) is not stored again, so importing twice adds
nothing. Each imported manifest records where it came from (`imported_from`). The source's
champion and promotion history are kept as history, in the import's audit row and the versions'
notes, never replayed as promotions here: making a version champion is the caller's step, through
the lifecycle (`huracan import bundle --promote`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from brain import Brain, VersionRecord
from brain.bundles import ImportedSlot, ImportedVersion, VersionMapping, import_versions, prune_events
from brain.records import OutOfSampleRecord

BUNDLE_FORMAT = 1
INDEX_NAME = "bundle.json"
HISTORY_NAME = "history.json"
ENSEMBLE_KIND = "ensemble"  # engine.ensembles.version.KIND


class BundleError(ValueError):
    """A bundle that cannot be written or read, worded as one line naming the file."""


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class BundleFile(_Record):
    """One file of the bundle, by its path inside the folder (POSIX separators)."""

    path: str
    sha256: str
    size: int


class BundleVersion(_Record):
    """One version of the bundle and where its files are."""

    number: int
    model_kind: str
    status: str
    artifact_sha256: str
    artifact_format: str
    spec_sha256: str | None = None
    members: tuple[int, ...] = ()  # an ensemble's member versions (source numbers)
    version_file: str
    manifest_file: str
    spec_file: str
    metrics_file: str
    artifact_file: str
    preprocessing_file: str | None = None
    oos_predictions_file: str | None = None


class BundleSlot(_Record):
    key: str
    symbol: str
    timeframe: str
    target: str
    horizon: int


class BundleIndex(_Record):
    """bundle.json: what the bundle holds and where it came from (the backend, never the URL)."""

    format_version: int
    bundle_id: str  # sha256 of the files' paths and digests: equal content, equal id
    created_at: datetime
    huracan_version: str
    source_backend: str
    slot: BundleSlot
    champion: int | None  # the source slot's champion when exported (maybe not in the bundle)
    history_file: str
    versions: tuple[BundleVersion, ...]
    files: tuple[BundleFile, ...]


@dataclass(frozen=True)
class Bundle:
    """A bundle read and verified: its index, its history, and each version ready to store."""

    path: Path
    index: BundleIndex
    history: dict[str, Any]
    versions: tuple[ImportedVersion, ...]


@dataclass(frozen=True)
class ImportResult:
    slot: str
    bundle_id: str
    mapping: tuple[VersionMapping, ...]
    source_champion: int | None
    champion_here: int | None  # the number here of the source's champion, where it was in the bundle

    def number_of(self, source_number: int) -> int:
        return next(item.number for item in self.mapping if item.source_number == source_number)


# ---- writing a bundle ------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__}")


def _json_bytes(document: Any) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True, allow_nan=False, default=_json_default)
            + "\n").encode()


def _number(value: float | None) -> str:
    return "" if value is None else repr(float(value))  # repr: the shortest text that reads back exactly


def _oos_csv(rows: OutOfSampleRecord) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(("fold", "ts", "prediction", "next_ret"))
    for fold, ts, prediction, next_ret in zip(rows.fold, rows.ts, rows.prediction, rows.next_ret,
                                              strict=True):
        writer.writerow((int(fold), ts.isoformat(), _number(prediction), _number(next_ret)))
    return text.getvalue().encode()


def _extension(artifact_format: str) -> str:
    return artifact_format if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,40}", artifact_format) else "bin"


def _member_shas(manifest: dict[str, Any]) -> list[tuple[int, str]]:
    """An ensemble manifest's members: (number, artifact sha256), as it records them."""
    members = (manifest.get("params") or {}).get("members") or []
    return [(int(member["number"]), str(member["artifact_sha256"])) for member in members]


def selected_versions(brain: Brain, slot: str, numbers: Sequence[int] | None) -> list[VersionRecord]:
    """The slot's versions to export (all when `numbers` is None) with every ensemble's members
    added, in number order. A member is found by its artifact, not its number: an ensemble
    imported from elsewhere records its members by their numbers there."""
    stored = brain.list_versions(slot)
    by_number = {version.number: version for version in stored}
    if numbers is None:
        chosen = dict(by_number)
    else:
        missing = [number for number in numbers if number not in by_number]
        if missing:
            raise BundleError(f"{slot} has no version {missing[0]} (versions: {sorted(by_number)})")
        chosen = {number: by_number[number] for number in numbers}
    for version in list(chosen.values()):
        if version.model_kind != ENSEMBLE_KIND:
            continue
        for number, sha256 in _member_shas(version.manifest):
            candidates = [v for v in stored if v.artifact_sha256 == sha256]
            if not candidates:
                raise BundleError(f"{slot} v{version.number} is an ensemble whose member v{number} "
                                  f"(artifact {sha256[:12]}…) is not in the slot")
            member = next((v for v in candidates if v.number == number), candidates[0])
            chosen.setdefault(member.number, member)
    return [chosen[number] for number in sorted(chosen)]


def slot_history(brain: Brain, slot: str) -> dict[str, Any]:
    """The slot's champion and its lifecycle, oldest first, by version number."""
    champion = brain.champion(slot)
    promotions = [
        {key: value for key, value in asdict(record).items() if key not in ("id", "slot_key")}
        for record in reversed(brain.promotion_history(slot))
    ]
    rollbacks = [
        {key: value for key, value in asdict(record).items() if key not in ("id", "slot_key")}
        for record in reversed(brain.list_rollbacks(slot, limit=1_000_000))
    ]
    prunes = [
        {"ts": event.ts, "version": int(str(event.target).rsplit(" v", 1)[1]), "actor": event.actor,
         "origin": event.origin, "reason": event.reason}
        for event in prune_events(brain, slot)
    ]
    return {"champion": None if champion is None else champion.number,
            "promotions": promotions, "rollbacks": rollbacks, "prunes": prunes}


def _bundle_id(files: Sequence[BundleFile]) -> str:
    listing = "\n".join(f"{item.path} {item.sha256}" for item in sorted(files, key=lambda f: f.path))
    return hashlib.sha256(listing.encode()).hexdigest()[:16]


def _destination(out: Path) -> Path:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BundleError(f"--out {out}: exists and is not an empty folder "
                          "(a bundle gets a folder of its own)")
    if not out.parent.is_dir():
        raise BundleError(f"--out {out}: the folder {out.parent} does not exist")
    return out


def export_bundle(
    brain: Brain, slot: str, out: Path, *, numbers: Sequence[int] | None = None, huracan_version: str
) -> BundleIndex:
    """Write the slot's versions (`numbers`, default all, plus ensemble members) to the folder
    `out` as a bundle and return its index. BundleError (one line) for an unknown slot or
    version or an unusable `out`, before anything is written."""
    record = brain.get_slot(slot)
    if record is None:
        known = ", ".join(s.key for s in brain.list_slots()) or "none yet"
        raise BundleError(f"no slot {slot} (slots: {known})")
    out = _destination(out)
    versions = selected_versions(brain, slot, numbers)
    if not versions:
        raise BundleError(f"{slot} has no versions to export")

    contents: dict[str, bytes] = {}
    entries = []
    for version in versions:
        folder = f"versions/v{version.number}"
        manifest = dict(version.manifest)
        artifact_format = str(manifest.get("artifact_format") or "bin")
        paths = {
            "version_file": f"{folder}/version.json",
            "manifest_file": f"{folder}/manifest.json",
            "spec_file": f"{folder}/spec.json",
            "metrics_file": f"{folder}/metrics.json",
            "artifact_file": f"{folder}/model.{_extension(artifact_format)}",
        }
        contents[paths["version_file"]] = _json_bytes({
            "number": version.number, "model_kind": version.model_kind, "status": version.status,
            "artifact_sha256": version.artifact_sha256, "artifact_format": artifact_format,
            "data_start": version.data_start, "data_end": version.data_end,
            "created_at": version.created_at, "notes": version.notes,
        })
        contents[paths["manifest_file"]] = _json_bytes(manifest)
        contents[paths["spec_file"]] = _json_bytes(manifest.get("spec"))
        contents[paths["metrics_file"]] = _json_bytes([
            {"name": m.name, "value": m.value, "fold": m.fold, "ts": m.ts, "scope": m.scope}
            for m in brain.version_metrics(version.id)
        ])
        contents[paths["artifact_file"]] = brain.load_artifact(version.artifact_sha256)
        preprocessor = manifest.get("preprocessor")
        if preprocessor is not None:
            paths["preprocessing_file"] = f"{folder}/preprocessing.{_extension(str(preprocessor['format']))}"
            contents[paths["preprocessing_file"]] = brain.load_artifact(str(preprocessor["sha256"]))
        out_of_sample = brain.oos_predictions(version.id)
        if out_of_sample is not None:
            paths["oos_predictions_file"] = f"{folder}/oos_predictions.csv"
            contents[paths["oos_predictions_file"]] = _oos_csv(out_of_sample)
        entries.append(BundleVersion(
            number=version.number, model_kind=version.model_kind, status=version.status,
            artifact_sha256=version.artifact_sha256, artifact_format=artifact_format,
            spec_sha256=manifest.get("spec_sha256"),
            members=tuple(number for number, _sha in _member_shas(manifest))
            if version.model_kind == ENSEMBLE_KIND else (),
            **paths,
        ))
    history = slot_history(brain, slot)
    contents[HISTORY_NAME] = _json_bytes(history)

    files = tuple(BundleFile(path=path, sha256=hashlib.sha256(data).hexdigest(), size=len(data))
                  for path, data in sorted(contents.items()))
    index = BundleIndex(
        format_version=BUNDLE_FORMAT, bundle_id=_bundle_id(files), created_at=datetime.now(UTC),
        huracan_version=huracan_version, source_backend=brain.backend,
        slot=BundleSlot(key=record.key, symbol=record.symbol, timeframe=record.timeframe,
                        target=record.target, horizon=record.horizon),
        champion=history["champion"], history_file=HISTORY_NAME, versions=tuple(entries), files=files,
    )
    _write_folder(out, {**contents, INDEX_NAME: _json_bytes(index.model_dump(mode="json"))})
    return index


def _write_folder(out: Path, contents: dict[str, bytes]) -> None:
    """The files, assembled in a folder beside `out` and renamed into place: a bundle is whole
    or absent, whenever the process stops."""
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        for path, data in contents.items():
            target = staging / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        if out.exists():
            out.rmdir()  # empty: _destination checked it
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


# ---- reading and verifying a bundle ----------------------------------------------------------------


def _index_of(folder: Path) -> BundleIndex:
    if not folder.exists():
        raise BundleError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise BundleError(f"{folder} is not a bundle: a bundle is a folder with a {INDEX_NAME}")
    path = folder / INDEX_NAME
    if not path.is_file():
        raise BundleError(f"{folder} is not a bundle: it has no {INDEX_NAME}")
    try:
        document = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleError(f"{path}: not JSON ({error})") from None
    if isinstance(document, dict) and isinstance(document.get("format_version"), int) \
            and document["format_version"] > BUNDLE_FORMAT:
        raise BundleError(f"{path}: bundle format {document['format_version']}; this huracan reads "
                          f"format {BUNDLE_FORMAT} (upgrade it)")
    try:
        index = BundleIndex.model_validate(document)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "(top)"
        raise BundleError(f"{path}: {where}: {problem['msg']}") from None
    if index.format_version != BUNDLE_FORMAT:
        raise BundleError(f"{path}: bundle format {index.format_version}; this huracan reads {BUNDLE_FORMAT}")
    return index


def _safe_path(folder: Path, relative: str) -> Path:
    """A listed path as a file inside the folder; refused if it would leave it."""
    parts = PurePosixPath(relative).parts
    if not parts or PurePosixPath(relative).is_absolute() or ".." in parts or "\\" in relative \
            or relative == INDEX_NAME:
        raise BundleError(f"{folder / INDEX_NAME}: the file path {relative!r} is not inside the bundle")
    return folder.joinpath(*parts)


def _verified_files(folder: Path, index: BundleIndex) -> dict[str, bytes]:
    """Every listed file's bytes, each checked for its size and sha256."""
    contents: dict[str, bytes] = {}
    for item in index.files:
        if item.path in contents:
            raise BundleError(f"{folder / INDEX_NAME}: lists {item.path} twice")
        path = _safe_path(folder, item.path)
        if not path.is_file():
            raise BundleError(f"{path}: missing (listed in {INDEX_NAME})")
        data = path.read_bytes()
        if len(data) != item.size:
            raise BundleError(f"{path}: {len(data)} bytes, {INDEX_NAME} says {item.size} "
                              "(tampered or truncated)")
        digest = hashlib.sha256(data).hexdigest()
        if digest != item.sha256:
            raise BundleError(f"{path}: sha256 {digest[:12]}… is not the {item.sha256[:12]}… {INDEX_NAME} "
                              f"lists (tampered or corrupt)")
        contents[item.path] = data
    return contents


def _listed(folder: Path, contents: dict[str, bytes], relative: str, what: str) -> bytes:
    if relative not in contents:
        raise BundleError(f"{folder / INDEX_NAME}: {what} {relative} is not among its files")
    return contents[relative]


def _document(folder: Path, contents: dict[str, bytes], relative: str, what: str) -> Any:
    try:
        return json.loads(_listed(folder, contents, relative, what))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleError(f"{folder / relative}: not JSON ({error})") from None


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _float(text: str) -> float | None:
    return None if text == "" else float(text)


def _oos_rows(data: bytes) -> OutOfSampleRecord:
    reader = csv.reader(io.StringIO(data.decode()))
    header = next(reader, None)
    if header != ["fold", "ts", "prediction", "next_ret"]:
        raise ValueError(f"header {header}, expected fold,ts,prediction,next_ret")
    rows = [(int(fold), _time(ts), _float(prediction), _float(next_ret))
            for fold, ts, prediction, next_ret in reader]
    if not rows:
        return OutOfSampleRecord(fold=(), ts=(), prediction=(), next_ret=())
    fold, ts, prediction, next_ret = zip(*rows, strict=True)
    return OutOfSampleRecord(fold=fold, ts=ts, prediction=prediction, next_ret=next_ret)


def _metric_rows(document: Any) -> tuple[dict[str, Any], ...]:
    if not isinstance(document, list):
        raise ValueError("a list of metric rows expected")
    return tuple({"name": str(row["name"]), "value": None if row["value"] is None else float(row["value"]),
                  "fold": None if row["fold"] is None else int(row["fold"]), "ts": _time(row["ts"]),
                  "scope": str(row["scope"])} for row in document)


def _version_of(folder: Path, contents: dict[str, bytes], entry: BundleVersion) -> ImportedVersion:
    from engine.manifest import Manifest

    manifest = _document(folder, contents, entry.manifest_file, "the manifest")
    row = _document(folder, contents, entry.version_file, "the version file")
    spec = _document(folder, contents, entry.spec_file, "the spec")
    metrics = _document(folder, contents, entry.metrics_file, "the metrics")
    artifact = _listed(folder, contents, entry.artifact_file, "the artifact")
    manifest_path = folder / entry.manifest_file
    if not isinstance(manifest, dict) or not isinstance(row, dict):
        raise BundleError(f"{manifest_path}: a manifest and a version file are JSON objects")
    try:
        Manifest.from_json(manifest)
    except (KeyError, TypeError, ValueError) as error:
        raise BundleError(f"{manifest_path}: not a version's manifest "
                          f"({type(error).__name__}: {error})") from None
    digest = hashlib.sha256(artifact).hexdigest()
    if manifest.get("artifact_sha256") != digest or entry.artifact_sha256 != digest:
        named = str(manifest.get("artifact_sha256"))[:12]
        raise BundleError(f"{manifest_path}: its artifact_sha256 {named}… is not the sha256 "
                          f"{digest[:12]}… of {entry.artifact_file}")
    if spec != manifest.get("spec"):
        raise BundleError(f"{folder / entry.spec_file}: differs from the spec in {entry.manifest_file}")
    companions: tuple[tuple[bytes, str], ...] = ()
    preprocessor = manifest.get("preprocessor")
    if preprocessor is not None:
        if entry.preprocessing_file is None:
            raise BundleError(f"{manifest_path}: names a preprocessing artifact the bundle does not hold")
        data = _listed(folder, contents, entry.preprocessing_file, "the preprocessing artifact")
        if hashlib.sha256(data).hexdigest() != preprocessor.get("sha256"):
            raise BundleError(f"{manifest_path}: its preprocessor sha256 is not the sha256 of "
                              f"{entry.preprocessing_file}")
        companions = ((data, str(preprocessor.get("format") or "skops")),)
    try:
        out_of_sample = None if entry.oos_predictions_file is None else _oos_rows(
            _listed(folder, contents, entry.oos_predictions_file, "the out-of-sample predictions"))
    except (ValueError, TypeError) as error:
        raise BundleError(f"{folder / str(entry.oos_predictions_file)}: {error}") from None
    try:
        metric_rows = _metric_rows(metrics)
        created_at = _time(row["created_at"])
        data_start, data_end = _time(row.get("data_start")), _time(row.get("data_end"))
    except (KeyError, TypeError, ValueError) as error:
        raise BundleError(f"{folder / entry.metrics_file} or {entry.version_file}: malformed "
                          f"({type(error).__name__}: {error})") from None
    if created_at is None or row.get("number") != entry.number:
        raise BundleError(f"{folder / entry.version_file}: does not describe v{entry.number}")
    return ImportedVersion(
        source_number=entry.number, model_kind=entry.model_kind, status=entry.status, manifest=manifest,
        artifact=artifact, artifact_format=entry.artifact_format, companions=companions, metrics=metric_rows,
        out_of_sample=out_of_sample, data_start=data_start, data_end=data_end, created_at=created_at,
        notes=row.get("notes"),
    )


def read_bundle(folder: Path) -> Bundle:
    """The bundle in `folder`, every file verified against its index and every version checked
    (manifest readable, artifact and preprocessing matching their manifest, an ensemble's members
    present) before anything is returned. BundleError names the first file that fails."""
    folder = Path(folder)
    index = _index_of(folder)
    contents = _verified_files(folder, index)
    history = _document(folder, contents, index.history_file, "the history")
    if not isinstance(history, dict) or history.get("champion") != index.champion:
        raise BundleError(f"{folder / INDEX_NAME}: its champion is not the one {index.history_file} records")
    if index.slot.key != f"{index.slot.symbol}:{index.slot.timeframe}:{index.slot.target}":
        raise BundleError(f"{folder / INDEX_NAME}: slot {index.slot.key} does not match its parts")
    versions = []
    numbers = set()
    for entry in index.versions:
        if entry.number in numbers:
            raise BundleError(f"{folder / INDEX_NAME}: lists v{entry.number} twice")
        numbers.add(entry.number)
        versions.append(_version_of(folder, contents, entry))
    artifacts = {version.artifact_sha256 for version in versions}
    for entry, version in zip(index.versions, versions, strict=True):
        if entry.model_kind != ENSEMBLE_KIND:
            continue
        for number, sha256 in _member_shas(version.manifest):
            if sha256 not in artifacts:
                raise BundleError(f"{folder / entry.manifest_file}: ensemble member v{number} "
                                  f"(artifact {sha256[:12]}…) is not in the bundle")
    if not versions:
        raise BundleError(f"{folder / INDEX_NAME}: holds no versions")
    return Bundle(path=folder, index=index, history=history, versions=tuple(versions))


# ---- importing ------------------------------------------------------------------------------------


def target_slot(bundle: Bundle, as_slot: str | None) -> ImportedSlot:
    """The slot the versions go to: the bundle's, or `as_slot`, which may change the symbol only
    (the versions were trained for the bundle's timeframe and target)."""
    source = bundle.index.slot
    if as_slot is None:
        return ImportedSlot(source.symbol, source.timeframe, source.target, source.horizon)
    parts = as_slot.split(":")
    if len(parts) != 3 or not all(parts):
        raise BundleError(f"--as-slot {as_slot!r}: a slot id is SYMBOL:TIMEFRAME:TARGET, "
                          "e.g. GOOG:1d:fwd_ret_1")
    symbol, timeframe, target = parts
    if (timeframe, target) != (source.timeframe, source.target):
        raise BundleError(f"--as-slot {as_slot}: the bundle's versions are {source.timeframe} models of "
                          f"{source.target}; only the symbol may differ ({source.key})")
    return ImportedSlot(symbol, timeframe, target, source.horizon)


def _provenance(bundle: Bundle, version: ImportedVersion) -> dict[str, Any]:
    index = bundle.index
    earlier = version.manifest.get("imported_from")  # a version moved before keeps that record
    return {"bundle": index.bundle_id, "slot": index.slot.key, "version": version.source_number,
            "source_backend": index.source_backend, "exported_at": index.created_at.isoformat(),
            "huracan_version": index.huracan_version,
            "was_champion": index.champion == version.source_number,
            **({} if earlier is None else {"previous": earlier})}


def _as_imported(bundle: Bundle, version: ImportedVersion, slot: ImportedSlot) -> ImportedVersion:
    index = bundle.index
    note = (f"imported from bundle {index.bundle_id} ({index.slot.key} v{version.source_number} of a "
            f"{index.source_backend} brain"
            + (", its champion then" if index.champion == version.source_number else "") + ")")
    return replace(version, manifest={**version.manifest, "slot": slot.key,
                                      "imported_from": _provenance(bundle, version)},
                   notes=note if not version.notes else f"{note}; {version.notes}")


def import_bundle(
    brain: Brain, bundle: Bundle, *, as_slot: str | None = None, actor: str, origin: str | None = None
) -> ImportResult:
    """Store a verified bundle's versions in `brain` in one transaction (see the module
    docstring); the champion here is left as it is."""
    slot = target_slot(bundle, as_slot)
    index = bundle.index
    mapping = import_versions(
        brain, slot, [_as_imported(bundle, version, slot) for version in bundle.versions],
        actor=actor, origin=origin,
        details={"bundle": index.bundle_id, "path": str(bundle.path), "source_slot": index.slot.key,
                 "source_backend": index.source_backend, "exported_at": index.created_at.isoformat(),
                 "huracan_version": index.huracan_version, "source_champion": index.champion,
                 "history": bundle.history},
    )
    numbers = {item.source_number: item.number for item in mapping}
    return ImportResult(slot=slot.key, bundle_id=index.bundle_id, mapping=tuple(mapping),
                        source_champion=index.champion,
                        champion_here=None if index.champion is None else numbers.get(index.champion))
