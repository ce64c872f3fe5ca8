"""Stored bytes never run code: an attacker who can write to the brain stores a pickle whose
unpickling writes a file, as a version with a matching sha256 and the artifact format of their
choosing. Every loading path (`huracan predict` as a user runs it, the live loop, an incremental
retrain) refuses it in one line before any library parses the bytes, and the file never appears."""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest

from brain import open_brain
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.training import train_model
from scheduler.services.live import LiveState
from scheduler.services.training import previous_versions

BIN = Path(sys.executable).parent
SLOT = "GOOG:1d:fwd_ret_1"
# (model kind, the artifact format the forged version declares, what the refusal says)
FORGERIES = [
    ("river_linear", "pickle", "declared format 'pickle' is not 'river-json'.*retrain this version"),
    ("river_linear", "river-json", "it is a pickle .* never loaded; retrain this version"),
    ("river_logistic", "river-json", "it is a pickle .* never loaded; retrain this version"),
    ("linear", "pickle", "declared format 'pickle' is not 'skops'"),
    ("linear", "skops", "cannot read linear artifact as skops"),
]


class _WritesAFile:
    """Unpickling this calls open(path, "w"): the file appearing means the bytes ran code."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


@pytest.fixture
def forged(any_brain_url, tmp_path):
    """A brain holding one honest river_linear version (1) and a forged version per FORGERIES
    (2, 3, ...), each with a real manifest whose format is the attacker's and a matching sha256."""
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_WritesAFile(marker))
    frame = load_ohlcv(bundled_path("GOOG"), symbol="GOOG")
    online = train_model(frame, "river_linear", timeframe="1d", n_folds=2)
    batch = train_model(frame, "linear", timeframe="1d", n_folds=2)
    with open_brain(any_brain_url) as brain:
        brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
        brain.add_version(
            SLOT, model_kind="river_linear", manifest=online.manifest.for_slot(SLOT).to_json(),
            artifact=online.artifact, artifact_format="river-json", metrics=[],
            data_start=None, data_end=None,
        )  # fmt: skip
        for kind, declared, _ in FORGERIES:
            real = (batch if kind == "linear" else online).manifest.for_slot(SLOT).to_json()
            manifest = {**real, "model_kind": kind, "artifact_format": declared}
            brain.add_version(
                SLOT, model_kind=kind, manifest=manifest, artifact=payload, artifact_format=declared,
                metrics=[], data_start=None, data_end=None,
            )  # fmt: skip
    return any_brain_url, marker


def huracan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "huracan"), *args], capture_output=True, text=True, timeout=240, env=dict(os.environ)
    )


def test_huracan_predict_refuses_every_forged_version(forged):
    url, marker = forged
    data = str(bundled_path("GOOG"))
    honest = huracan("predict", SLOT, "--number", "1", "--data", data, "--brain", url, "--json")
    assert honest.returncode == 0, honest.stderr  # the honest JSON learner loads and predicts
    for number, (kind, _, says) in enumerate(FORGERIES, start=2):
        done = huracan("predict", SLOT, "--number", str(number), "--data", data, "--brain", url)
        assert done.returncode != 0 and done.stdout == ""
        (line,) = done.stderr.splitlines()  # one line, no traceback
        assert line.startswith("huracan: error: ") and f"{kind} artifact" in line, line
        assert re.search(says, line), line
        assert not marker.exists()


def test_the_live_loop_and_incremental_retrains_refuse_them(forged):
    url, marker = forged
    with open_brain(url) as brain:
        versions = brain.list_versions(SLOT)
        state = LiveState()
        assert state.servable(brain, versions[0]).model.predict  # the honest one loads
        for version, (kind, _, says) in zip(versions[1:], FORGERIES, strict=True):
            with pytest.raises(ValueError, match=says) as refused:
                state.servable(brain, version)
            assert "\n" not in str(refused.value) and version.id not in state.servables
            # An incremental retrain loads the slot's latest version of each kind it trains.
            with pytest.raises(ValueError, match=f"{kind} artifact"):
                previous_versions(brain, SLOT, [kind])
            assert not marker.exists()
