"""The MLP autoencoder (engine.autoencoder) and its preprocessing step: seeded, applied without
torch, saved under the skops trust list, and fitted inside a fold on that fold's training rows only."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from engine.autoencoder import Autoencoder
from engine.preprocessing import fit_steps, load_steps
from engine.spec import SpecError, parse_spec

NAMES = [f"x{i}" for i in range(6)]


def steps(*documents):
    return parse_spec({"model": {"kind": "linear"}, "preprocessing": list(documents)}).preprocessing


@pytest.fixture(scope="module")
def rows():
    """Six columns driven by two factors, on very different scales (the autoencoder standardises)."""
    rng = np.random.default_rng(4)
    factors = rng.normal(size=(600, 2))
    X = factors @ rng.normal(size=(2, 6)) + 0.05 * rng.normal(size=(600, 6))
    return X * np.array([1, 10, 100, 0.1, 1, 1000]), factors[:, 0]


def test_a_seed_gives_the_same_weights_and_the_bottleneck_keeps_the_factors(rows):
    X, _ = rows
    first = Autoencoder(latent=2, hidden=12, epochs=40, seed=7).fit(X)
    again = Autoencoder(latent=2, hidden=12, epochs=40, seed=7).fit(X)
    other = Autoencoder(latent=2, hidden=12, epochs=40, seed=8).fit(X)
    assert all(np.array_equal(a, b) for a, b in zip(first.weights_, again.weights_, strict=True))
    assert not np.array_equal(first.weights_[0], other.weights_[0])
    assert all(isinstance(w, np.ndarray) and w.dtype == np.float64 for w in first.weights_ + first.biases_)
    assert first.encode(X).shape == (600, 2)
    # Two latent units carry a two-factor table: far below the error of reconstructing by the mean (1).
    assert first.row_errors(X).mean() < 0.1
    np.testing.assert_allclose(first.reconstruct(X).std(axis=0), X.std(axis=0), rtol=0.2)
    with pytest.raises(ValueError, match="missing or infinite"):
        first.encode(np.where(np.eye(600, 6, dtype=bool), np.nan, X))
    with pytest.raises(ValueError, match="fitted on 6 columns, got 5"):
        first.encode(X[:, :5])


def test_the_step_names_its_latent_units_and_a_saved_fit_serves_without_torch(rows, tmp_path):
    X, y = rows
    chosen = steps({"step": "scale"}, {"step": "autoencoder", "latent": 3, "hidden": 8, "epochs": 10})
    fitted = fit_steps(chosen, X, y, NAMES, task="regression", seed=5)
    assert fitted.output_names == ("ae_0", "ae_1", "ae_2")
    saved = fitted.to_bytes()
    assert saved == fit_steps(chosen, X, y, NAMES, task="regression", seed=5).to_bytes()  # reproducible
    loaded = load_steps(saved, chosen, NAMES)
    assert loaded.output_names == fitted.output_names
    np.testing.assert_array_equal(loaded.transform(X), fitted.transform(X))
    # A fresh process where torch cannot be imported loads the bytes and transforms rows. (Importing
    # skops.io itself imports torch where it is installed: skops walks scikit-learn's packages,
    # array_api_compat's torch shim among them; the walk skips a package that fails to import.)
    (tmp_path / "steps.skops").write_bytes(saved)
    (tmp_path / "steps.json").write_text(json.dumps([step.model_dump() for step in chosen]))
    np.save(tmp_path / "rows.npy", X[:5])
    code = (
        "import json, sys\n"
        "class NoTorch:  # `import torch` raises ImportError from here on\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'torch':\n"
        "            raise ImportError('torch is blocked in this process')\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "import numpy as np\n"
        "from pathlib import Path\n"
        "from engine.preprocessing import load_steps\n"
        "from engine.spec import parse_spec\n"
        "folder = Path(sys.argv[1])\n"
        "documents = json.loads((folder / 'steps.json').read_text())\n"
        "spec = parse_spec({'model': {'kind': 'linear'}, 'preprocessing': documents})\n"
        f"steps = load_steps((folder / 'steps.skops').read_bytes(), spec.preprocessing, {NAMES!r})\n"
        "out = steps.transform(np.load(folder / 'rows.npy'))\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'out': out.tolist()}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["torch"] is False
    np.testing.assert_array_equal(np.array(answer["out"]), fitted.transform(X[:5]))


def test_fitting_inside_a_fold_sees_no_test_row(rows):
    """The fold's fit is a function of its training rows alone: test rows changed beyond
    recognition leave the fitted bytes identical, and the standardisation is the training rows'."""
    from engine.training import fold_inputs

    X, y = rows
    chosen = steps({"step": "autoencoder", "latent": 2, "hidden": 8, "epochs": 5})
    train = range(0, 400)
    data = _prepared(X, y)
    fold_data, fitted = fold_inputs(data, chosen, train, "linear", seed=3)
    shocked = X.copy()
    shocked[400:] = shocked[400:] * 50 + 1e3  # the test period, nothing like the training rows
    _, fitted_shocked = fold_inputs(_prepared(shocked, y), chosen, train, "linear", seed=3)
    assert fitted.to_bytes() == fitted_shocked.to_bytes()
    autoencoder = fitted.pipeline.named_steps["autoencoder"].autoencoder_
    np.testing.assert_array_equal(autoencoder.mean_, X[:400].mean(axis=0))
    assert fold_data.features == ["ae_0", "ae_1"] and fold_data.X.shape == (600, 2)


def test_bad_autoencoder_steps_are_one_line_naming_the_key(rows):
    X, y = rows
    with pytest.raises(SpecError, match=r"preprocessing\[0\]\.latent"):
        parse_spec({"model": {"kind": "linear"}, "preprocessing": [{"step": "autoencoder", "latent": 0}]})
    with pytest.raises(SpecError, match=r"preprocessing\[0\]\.units: unknown key"):
        parse_spec({"model": {"kind": "linear"}, "preprocessing": [{"step": "autoencoder", "units": 3}]})
    with pytest.raises(ValueError, match=r"preprocessing\[0\]\.latent: 9 latent units but only 6"):
        fit_steps(steps({"step": "autoencoder", "latent": 9}), X, y, NAMES, task="regression", seed=1)


def _prepared(X: np.ndarray, y: np.ndarray):
    """The fold's data as training hands it to fold_inputs: inputs, names and targets."""
    from engine.training import PreparedData

    n = X.shape[0]
    return PreparedData(features=list(NAMES), X=X, fwd=y, direction=np.sign(y).astype(int),
                        next_ret=np.zeros(n), timestamps=list(range(n)), threshold_bps=0.0)
