"""The same training gives the same bytes: every kind's artifact is byte for byte the same across
two fits with the same data, parameters and seed (so identical models share one sha256 and are
stored once), the rewritten archives load back to the same model, and the manifest says how far
that promise goes."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from engine.manifest import Manifest
from engine.models import MODEL_CLASSES, Determinism, load_model, make_model
from engine.models.archives import FIXED_DATE_TIME
from engine.training import train_model

# The agents' same-seed, same-bytes promise is tested in test_engine_rl_agents.py with settings
# small enough to fit twice quickly.
AVAILABLE = [kind for kind, cls in MODEL_CLASSES.items()
             if cls.unavailable_reason() is None and cls.card.family != "reinforcement"]
# Tiny settings, so that fitting every kind twice stays quick; each kind takes the ones it has.
SMALL = {"n_estimators": 8, "n_jobs": 2, "max_epochs": 2, "lookback": 4, "hidden_size": 8, "d_model": 8,
         "heads": 2, "batch_size": 32, "device": "cpu", "n_neighbors": 5}  # fmt: skip


def tiny(kind: str):
    defaults = MODEL_CLASSES[kind].default_params()
    return make_model(kind, **{name: value for name, value in SMALL.items() if name in defaults})


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 4))
    y = X[:, 0] - 0.5 * X[:, 2] + rng.normal(scale=0.5, size=120)
    return X, y


def target(kind: str, y: np.ndarray) -> np.ndarray:
    return np.where(y > 0, 1, -1) if MODEL_CLASSES[kind].task == "classification" else y


@pytest.mark.parametrize("kind", AVAILABLE)
def test_two_identical_fits_store_the_same_bytes(data, kind):
    X, y = data
    first, second = (tiny(kind).fit(X, target(kind, y)) for _ in range(2))
    artifact = first.to_bytes()
    assert artifact == second.to_bytes()
    assert first.determinism() is Determinism.BITWISE
    # The canonical archive is still the library's: it loads back to the same predictions.
    loaded = load_model(
        kind, artifact, sha256=hashlib.sha256(artifact).hexdigest(), artifact_format=first.artifact_format
    )
    np.testing.assert_array_equal(loaded.predict(X), first.predict(X))


@pytest.mark.parametrize("kind", [k for k in AVAILABLE if MODEL_CLASSES[k].artifact_format == "skops"][:2])
def test_skops_archives_hold_no_time_and_no_memory_address(data, kind):
    X, y = data
    archive = zipfile.ZipFile(io.BytesIO(tiny(kind).fit(X, target(kind, y)).to_bytes()))
    assert {entry.date_time for entry in archive.infolist()} == {FIXED_DATE_TIME}
    names = [entry.filename for entry in archive.infolist()]
    assert names[-1] == "schema.json"
    assert names[:-1] == [f"{index}.npy" for index in range(1, len(names))]  # numbered, not id()s


_FIT_IN_A_FRESH_PROCESS = """
import hashlib, sys
import numpy as np
from engine.models import make_model
rng = np.random.default_rng(3)
X = rng.normal(size=(120, 4)); y = X[:, 0] + rng.normal(scale=0.5, size=120)
for kind, params in [("linear", {}), ("random_forest", {"n_estimators": 8}), ("river_linear", {}),
                     ("lstm", {"max_epochs": 2, "lookback": 4, "hidden_size": 8, "device": "cpu"})]:
    print(kind, hashlib.sha256(make_model(kind, **params).fit(X, y).to_bytes()).hexdigest())
"""


def test_two_processes_store_the_same_bytes():
    """Memory addresses, random ids and clocks differ between runs, not only between fits."""
    runs = [
        subprocess.run(
            [sys.executable, "-c", _FIT_IN_A_FRESH_PROCESS], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    ]
    assert runs[0] == runs[1] and len(runs[0].splitlines()) == 4


@pytest.mark.parametrize("kind", ["linear", "lightgbm"])
def test_trainings_record_bitwise_determinism_and_deduplicate(goog, kind):
    first, second = (train_model(goog, kind, timeframe="1d", n_folds=2) for _ in range(2))
    assert first.artifact == second.artifact
    assert first.manifest.determinism is Determinism.BITWISE
    assert first.manifest.to_json()["determinism"] == "bitwise"
    assert Manifest.from_json(first.manifest.to_json()) == first.manifest


def test_older_manifests_read_as_unrecorded(goog):
    document = train_model(goog, "linear", timeframe="1d", n_folds=2).manifest.to_json()
    del document["determinism"]
    assert Manifest.from_json(document).determinism is Determinism.UNRECORDED


def test_a_network_trained_on_a_gpu_says_so():
    model = tiny("lstm")
    model.network_, model.device_ = object(), _Device("cuda")  # as fit leaves them on a GPU
    assert model.determinism() is Determinism.NOT_ON_GPU
    model.device_ = _Device("cpu")
    assert model.determinism() is Determinism.BITWISE


class _Device:
    def __init__(self, type_: str):
        self.type = type_
