"""`huracan export bundle` / `huracan import bundle`: a slot's versions (a linear, a LightGBM and
their ensemble, with a lifecycle: promotions, a rollback, a prune, live metrics) moved from a
SQLite brain to a PostgreSQL one and back. The imported versions serve the same forecasts; a
tampered bundle is refused in one line naming the file with every table of the target unchanged;
importing twice adds nothing; an import killed halfway leaves the brain as it was."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import func, select

from brain import open_brain
from brain.schema import metadata
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.serving import load_servable
from huracan_tui.cli import main as cli
from scheduler.services.bundles import export_bundle, import_bundle, read_bundle
from tests.cli.test_cli import run
from tests.conftest import sqlite_url

SLOT = "GOOG:1d:fwd_ret_1"
MALLORY = {"USER": "mallory", "LOGNAME": "mallory"}
MOVED_KEYS = ("slot", "imported_from")  # what an import adds to a manifest


@dataclass(frozen=True)
class Source:
    url: str
    bundle: Path


def give_a_lifecycle(brain) -> None:
    """v1 first champion, v3 forced in, rolled back to v1, v2 pruned; a live metric on v1."""
    v1 = brain.get_version(SLOT, 1)
    brain.record_metrics(v1.id, [{"name": "sharpe", "value": 0.25, "scope": "live"}])
    brain.promote_version(SLOT, 1, actor="tester", reason="first")
    brain.promote_version(SLOT, 3, actor="tester", reason="blend", force=True)
    brain.rollback(SLOT, actor="tester", reason="worse live")
    if brain.get_version(SLOT, 2).status != "pruned":
        brain.prune_version(SLOT, 2, actor="tester", reason="superseded")


def export_here(url: str, out: Path, numbers=None):
    with open_brain(url) as brain:
        return export_bundle(brain, SLOT, out, numbers=numbers, huracan_version="test")


@pytest.fixture(scope="module")
def sqlite_source(tmp_path_factory, seeded_brain_template) -> Source:
    from scheduler.services.ensembles import train_ensemble

    folder = tmp_path_factory.mktemp("bundle-source")
    shutil.copy(seeded_brain_template, folder / "brain.db")
    url = sqlite_url(folder / "brain.db")
    with open_brain(url) as brain:
        train_ensemble(brain, SLOT, [1, 2], "average", actor="tester")
        give_a_lifecycle(brain)
    export_here(url, folder / "bundle")
    return Source(url, folder / "bundle")


def postgres_source(sqlite_source: Source, url: str, tmp_path: Path) -> Source:
    """A PostgreSQL brain holding the same versions (itself imported) and its own lifecycle."""
    with open_brain(url) as brain:
        import_bundle(brain, read_bundle(sqlite_source.bundle), actor="tester")
        give_a_lifecycle(brain)
    export_here(url, tmp_path / "bundle")
    return Source(url, tmp_path / "bundle")


def huracan(*args: str) -> tuple[int, str, str]:
    """The CLI in this process (the same `run` the `huracan` script calls): (exit, stdout, stderr)."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.run(list(args))
    return code, out.getvalue(), err.getvalue()


def table_counts(url: str) -> dict[str, int]:
    with open_brain(url) as brain, brain._read() as conn:
        return {name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for name, table in metadata.tables.items()}


def forecasts(brain, number: int):
    version = brain.get_version(SLOT, number)
    serving = load_servable(version.manifest, brain.load_artifact(version.artifact_sha256),
                            sha256=version.artifact_sha256, load_artifact=brain.load_artifact)
    return serving.predict_frame(load_ohlcv(bundled_path("GOOG"), symbol="GOOG"))


def assert_moved(source_url: str, target_url: str, numbers: dict[int, int]) -> None:
    """Each source version (number -> its number in the target) arrived whole and forecasts alike."""
    with open_brain(source_url) as source, open_brain(target_url) as target:
        for number, here in numbers.items():
            was, now = source.get_version(SLOT, number), target.get_version(SLOT, here)
            assert (now.model_kind, now.status, now.artifact_sha256) == (was.model_kind, was.status,
                                                                         was.artifact_sha256)
            assert (now.created_at, now.data_start, now.data_end) == (was.created_at, was.data_start,
                                                                      was.data_end)
            assert {k: v for k, v in now.manifest.items() if k not in MOVED_KEYS} == \
                   {k: v for k, v in was.manifest.items() if k not in MOVED_KEYS}
            assert now.manifest["imported_from"]["version"] == number and now.manifest["slot"] == SLOT
            assert now.notes.startswith("imported from bundle ")

            def rows(brain, version):
                return [(m.name, m.value, m.fold, m.scope, m.ts) for m in brain.version_metrics(version.id)]

            assert rows(target, now) == rows(source, was) and {m[3] for m in rows(source, was)} >= {"oos"}
            assert target.oos_predictions(now.id) == source.oos_predictions(was.id) is not None
            assert_frame_equal(forecasts(target, here), forecasts(source, number))


@pytest.mark.postgres
@pytest.mark.parametrize("direction", ["sqlite_to_postgresql", "postgresql_to_sqlite"])
def test_a_slot_moves_between_backends_and_serves_the_same_forecasts(
    direction, sqlite_source, postgres_schema_url, tmp_path
):
    if direction == "sqlite_to_postgresql":
        source, target = sqlite_source, postgres_schema_url
    else:
        source, target = postgres_source(sqlite_source, postgres_schema_url, tmp_path), sqlite_url(
            tmp_path / "target.db")
    index = json.loads((source.bundle / "bundle.json").read_text())
    assert index["source_backend"] == direction.split("_to_")[0]
    assert "@" not in json.dumps(index) and index["champion"] == 1  # no URL, and the champion named
    assert [(v["number"], v["model_kind"], v["members"]) for v in index["versions"]] == [
        (1, "linear", []), (2, "lightgbm", []), (3, "ensemble", [1, 2])]

    code, out, err = huracan("import", "bundle", str(source.bundle), "--brain", target, "--json")
    assert code == 0, err
    document = json.loads(out)
    assert [(v["source"], v["number"], v["created"]) for v in document["versions"]] == [
        (1, 1, True), (2, 2, True), (3, 3, True)]
    assert (document["source_champion"], document["champion"]) == (1, None)  # not made champion silently
    assert_moved(source.url, target, {1: 1, 2: 2, 3: 3})

    with open_brain(source.url) as brain:
        history = [(p.kind, p.version) for p in reversed(brain.promotion_history(SLOT))]
    with open_brain(target) as brain:
        assert brain.champion(SLOT) is None and brain.promotion_history(SLOT) == []  # history, not replayed
        imported = next(entry for entry in brain.list_audit() if entry.action == "bundle.import")
        kept = imported.details["history"]
        assert [(p["kind"], p["version"]) for p in kept["promotions"]] == history
        assert kept["champion"] == 1 and [r["to_version"] for r in kept["rollbacks"]] == [1]
        assert imported.details["versions"] == {"v1": 1, "v2": 2, "v3": 3}
        assert brain.get_version(SLOT, 1).manifest["imported_from"]["was_champion"] is True
    before = table_counts(target)

    again = run("import", "bundle", str(source.bundle), "--brain", target, "--promote")  # a real process
    assert again.returncode == 0, again.stderr
    assert "0 version(s) stored, 3 already here" in again.stdout
    assert "champion here: v1 (promoted)" in again.stdout
    after = table_counts(target)
    assert after["model_versions"] == before["model_versions"] == 3
    assert after["model_metrics"] == before["model_metrics"] and after["promotions"] == 1
    with open_brain(target) as brain:
        promotion = brain.promotion_history(SLOT)[0]
        assert promotion.version == 1
        assert promotion.reason.startswith(f"imported from bundle {index['bundle_id']}")
        assert brain.list_audit()[0].reason == promotion.reason  # the audit row of the promotion says so

    code, out, err = huracan("show", SLOT, "--brain", target, "--json")
    assert code == 0, err
    assert [(v["number"], v["model_kind"]) for v in json.loads(out)["versions"]] == [
        (1, "linear"), (2, "lightgbm"), (3, "ensemble")]
    code, out, err = huracan("predict", SLOT, "--number", "3", "--data", str(bundled_path("GOOG")),
                             "--brain", target, "--json")
    assert code == 0, err
    with open_brain(source.url) as brain:
        expected = forecasts(brain, 3)["prediction"].to_list()
    assert [row["prediction"] for row in json.loads(out)["predictions"]] == expected


def test_versions_follow_the_newest_where_the_slot_has_some(sqlite_source, tmp_path):
    target = sqlite_url(tmp_path / "target.db")
    export_here(sqlite_source.url, tmp_path / "only-v2", numbers=[2])
    code, out, err = huracan("import", "bundle", str(tmp_path / "only-v2"), "--brain", target, "--json")
    assert code == 0, err
    # The slot was empty: the version keeps its number.
    assert [(v["source"], v["number"]) for v in json.loads(out)["versions"]] == [(2, 2)]

    code, out, err = huracan("import", "bundle", str(sqlite_source.bundle), "--brain", target, "--json")
    assert code == 0, err
    assert [(v["source"], v["number"], v["created"]) for v in json.loads(out)["versions"]] == [
        (1, 3, True), (2, 2, False), (3, 4, True)]
    assert_moved(sqlite_source.url, target, {1: 3, 2: 2, 3: 4})  # the ensemble serves from its new members


def test_versions_may_go_to_a_slot_of_another_symbol(sqlite_source, tmp_path):
    target = sqlite_url(tmp_path / "target.db")
    code, out, err = huracan("import", "bundle", str(sqlite_source.bundle), "--as-slot", "GOOGL:1d:fwd_ret_1",
                             "--brain", target, "--json")
    assert code == 0, err
    assert json.loads(out)["slot"] == "GOOGL:1d:fwd_ret_1"
    with open_brain(target) as brain:
        moved = brain.list_versions("GOOGL:1d:fwd_ret_1")
        assert [v.number for v in moved] == [1, 2, 3] and brain.get_slot("GOOGL:1d:fwd_ret_1").horizon == 1
        assert {v.manifest["slot"] for v in moved} == {"GOOGL:1d:fwd_ret_1"}
        assert {v.manifest["imported_from"]["slot"] for v in moved} == {SLOT}


def test_an_ensemble_takes_its_members_along(sqlite_source, tmp_path):
    index = export_here(sqlite_source.url, tmp_path / "ensemble", numbers=[3])
    assert [v.number for v in index.versions] == [1, 2, 3]


def corrupt_artifact(bundle: Path) -> str:
    path = bundle / "versions/v2/model.lightgbm-text"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    return "versions/v2/model.lightgbm-text: sha256"


def edit_manifest(bundle: Path) -> str:
    path = bundle / "versions/v1/manifest.json"
    path.write_text(path.read_text().replace("\"seed\": 42", "\"seed\": 43"))
    return "versions/v1/manifest.json: sha256"


def remove_a_file(bundle: Path) -> str:
    (bundle / "versions/v3/metrics.json").unlink()
    return "versions/v3/metrics.json: missing"


def name_another_artifact(bundle: Path) -> str:
    """A manifest edited to name other bytes, with the index rewritten to match: the manifest's
    artifact sha256 is checked against the file itself."""
    import hashlib

    path = bundle / "versions/v1/manifest.json"
    manifest = json.loads(path.read_text())
    manifest["artifact_sha256"] = "0" * 64
    path.write_text(json.dumps(manifest))
    index = json.loads((bundle / "bundle.json").read_text())
    for item in index["files"]:
        if item["path"] == "versions/v1/manifest.json":
            item.update(sha256=hashlib.sha256(path.read_bytes()).hexdigest(), size=path.stat().st_size)
    (bundle / "bundle.json").write_text(json.dumps(index))
    return "versions/v1/manifest.json: its artifact_sha256 000000000000… is not the sha256"


@pytest.mark.parametrize("tamper", [corrupt_artifact, edit_manifest, remove_a_file, name_another_artifact])
def test_a_tampered_bundle_is_refused_and_writes_nothing(tamper, sqlite_source, seeded_brain_url, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(sqlite_source.bundle, bundle)
    words = tamper(bundle)
    before = table_counts(seeded_brain_url)
    code, out, err = huracan("import", "bundle", str(bundle), "--brain", seeded_brain_url)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert words in err and str(bundle) in err
    assert table_counts(seeded_brain_url) == before


def test_an_import_stopped_halfway_leaves_the_brain_as_it_was(sqlite_source, any_brain_url):
    brain_url = any_brain_url
    class Stopped(Exception):
        pass

    bundle = read_bundle(sqlite_source.bundle)
    with open_brain(brain_url) as brain:
        brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
    before = table_counts(brain_url)
    inserted = []

    def stop_at_the_second_version(statement: str) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO MODEL_VERSIONS"):
            inserted.append(statement)
            if len(inserted) == 2:
                raise Stopped

    with open_brain(brain_url) as brain:
        stop = brain.on_statement(stop_at_the_second_version)
        with pytest.raises(Stopped):
            import_bundle(brain, bundle, actor="tester")
        stop()
    assert len(inserted) == 2 and table_counts(brain_url) == before


def test_a_viewer_cannot_import(sqlite_source, seeded_brain_url, monkeypatch):
    for variable, user in MALLORY.items():
        monkeypatch.setenv(variable, user)
    code, out, err = huracan("import", "bundle", str(sqlite_source.bundle), "--brain", seeded_brain_url)
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "mallory is a viewer: import bundle not allowed" in err
    with open_brain(seeded_brain_url) as brain:
        assert len(brain.list_versions(SLOT)) == 2


def test_bad_input_is_one_line_and_writes_nothing(sqlite_source, seeded_brain_url, tmp_path):
    (tmp_path / "not-a-bundle").mkdir()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "something").write_text("x")
    url, out_dir = seeded_brain_url, str(tmp_path / "b")
    before = table_counts(url)
    for args, words in [
        (("import", "bundle", str(tmp_path / "nowhere")), f"{tmp_path / 'nowhere'}: no such folder"),
        (("import", "bundle", str(tmp_path / "not-a-bundle")), "is not a bundle: it has no bundle.json"),
        (("import", "bundle", str(sqlite_source.bundle), "--as-slot", "GOOG:1h:fwd_ret_1"),
         "only the symbol may differ"),
        (("import", "bundle", str(sqlite_source.bundle), "--force"), "--force goes with --promote"),
        (("export", "bundle", "NOPE:1d:fwd_ret_1", "--out", out_dir), "no slot NOPE:1d:fwd_ret_1"),
        (("export", "bundle", SLOT, "--out", out_dir, "--versions", "9"), f"{SLOT} has no version 9"),
        (("export", "bundle", SLOT, "--out", out_dir, "--versions", "x"), "--versions 'x'"),
        (("export", "bundle", SLOT, "--out", str(tmp_path / "full")), "exists and is not an empty folder"),
    ]:
        code, out, err = huracan(*args, "--brain", url)
        assert code == 2 and out == "" and err.count("\n") == 1 and words in err, (args, err)
    assert table_counts(url) == before and not (tmp_path / "b").exists()
    left = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("brain.db"))
    assert left == ["full", "not-a-bundle"]  # no bundle, and no half-written one beside it
