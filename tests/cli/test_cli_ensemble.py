"""`huracan ensemble` as a user runs it: a real process on a seeded brain (GOOG:1d with a linear
and a LightGBM version) stores an ensemble version and prints it; bad input and a viewer are
refused in one line and nothing is written."""

from __future__ import annotations

import json

import pytest

from brain import open_brain
from tests.cli.test_cli import run

SLOT = "GOOG:1d:fwd_ret_1"
MALLORY = {"USER": "mallory", "LOGNAME": "mallory"}


def test_ensemble_stores_a_version_and_prints_it(seeded_brain_url):
    url = seeded_brain_url
    done = run("ensemble", SLOT, "--members", "1,2", "--method", "optimised", "--brain", url, "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert (document["number"], document["model_kind"], document["members"]) == (3, "ensemble", [1, 2])
    assert sum(document["weights"]) == pytest.approx(1.0) and min(document["weights"]) >= 0
    assert document["folds"] == 3 and set(document["metrics"]) >= {"sharpe", "hit_rate", "ic", "rmse"}
    with open_brain(url) as brain:
        stored = brain.get_version(SLOT, 3)
        assert stored.model_kind == "ensemble" and stored.artifact_sha256 == document["artifact_sha256"]
        assert stored.manifest["params"]["weights"] == document["weights"]

    text = run("ensemble", SLOT, "--members", "2, 1", "--brain", url)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith(f"{SLOT} v4 ensemble (average: v2 0.500, v1 0.500) sharpe=")


@pytest.mark.parametrize(("members", "words"), [
    ("1,x", "--members '1,x': version numbers, comma separated"),
    ("1", "members: an ensemble needs at least 2 versions, got 1"),
    ("1,9", f"members: {SLOT} has no version 9 (versions: [1, 2])"),
    ("0,1", "--members must be at least 1, not 0"),
])
def test_bad_members_are_one_line_and_write_nothing(seeded_brain_url, members, words):
    done = run("ensemble", SLOT, "--members", members, "--brain", seeded_brain_url)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr and words in done.stderr
    with open_brain(seeded_brain_url) as brain:
        assert len(brain.list_versions(SLOT)) == 2


def test_a_viewer_cannot_make_an_ensemble(seeded_brain_url):
    refused = run("ensemble", SLOT, "--members", "1,2", "--brain", seeded_brain_url, env=MALLORY)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    assert "mallory is a viewer: ensemble not allowed" in refused.stderr
    with open_brain(seeded_brain_url) as brain:
        assert len(brain.list_versions(SLOT)) == 2
        assert [e.action for e in brain.list_audit() if e.actor == "mallory"] == ["ensemble"]


def test_train_with_ensemble_stores_the_blend_of_its_new_versions(tmp_path, config_file):
    from engine.datasets import bundled_path

    url = f"sqlite:///{tmp_path / 'blend.db'}"
    done = run("train", "--data", str(bundled_path("GOOG")), "--symbol", "GOOG", "--brain", url,
               "--config", str(config_file), "--ensemble", "stacking", "--json")
    assert done.returncode == 0, done.stderr
    versions = json.loads(done.stdout)["versions"]
    assert [(v["number"], v["model_kind"]) for v in versions] == [
        (1, "linear"), (2, "lightgbm"), (3, "ensemble")]
    blend = versions[2]
    assert blend["method"] == "stacking" and blend["members"] == [1, 2] and blend["folds"] == 3
    with open_brain(url) as brain:
        stored = brain.get_version(SLOT, 3)
        assert stored.manifest["spec"]["ensemble"] == {"members": [1, 2], "method": "stacking"}
        assert stored.manifest["params"]["weights"] == blend["weights"]
    shown = run("show", SLOT, "--number", "3", "--brain", url)
    assert "ensemble       stacking of v1 " in shown.stdout and "each member's own" in shown.stdout


def test_an_unknown_ensemble_method_is_refused_by_train(tmp_path):
    from engine.datasets import bundled_path

    url = f"sqlite:///{tmp_path / 'blend.db'}"
    done = run("train", "--data", str(bundled_path("GOOG")), "--symbol", "GOOG", "--brain", url,
               "--ensemble", "median")
    assert done.returncode == 2 and "--ensemble: invalid choice: 'median'" in done.stderr
    assert not (tmp_path / "blend.db").exists()
