"""`huracan train --processes 2`: an LSTM fitted across two local processes (torch DDP, gloo) is
stored with its manifest recording how it was trained; a rank that dies stores nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from brain import open_brain
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.models.neural.distributed import TEST_EXIT_ENV

BIN = Path(sys.executable).parent
LSTM = {"lookback": 4, "hidden_size": 4, "max_epochs": 2, "batch_size": 32, "device": "cpu"}


def huracan(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "huracan"), *args], capture_output=True, text=True, timeout=400,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def inputs(tmp_path) -> tuple[Path, Path]:
    data = tmp_path / "goog.csv"
    load_ohlcv(bundled_path("GOOG"), symbol="GOOG").tail(300).write_csv(data)
    config = tmp_path / "huracan.yaml"
    config.write_text(yaml.safe_dump({"training": {"models": ["lstm"], "n_folds": 2, "cadence": "quick",
                                                   "params": {"lstm": LSTM}}}))
    return data, config


def train(inputs, brain_url: str, *options: str, env: dict | None = None) -> subprocess.CompletedProcess:
    data, config = inputs
    return huracan("train", "--data", str(data), "--symbol", "GOOG", "--models", "lstm", *options,
                   "--brain", brain_url, "--config", str(config), "--json", env=env)


def test_train_across_two_processes_stores_a_version_that_records_them(inputs, any_brain_url):
    done = train(inputs, any_brain_url, "--processes", "2")
    assert done.returncode == 0, done.stderr
    (version,) = json.loads(done.stdout)["versions"]
    with open_brain(any_brain_url) as brain:
        stored = brain.latest_version("GOOG:1d:fwd_ret_1")
        assert stored.number == version["number"] and stored.model_kind == "lstm"
        params = stored.manifest["spec"]["model"]["params"]
        assert (params["processes"], params["backend"]) == (2, "gloo")


def test_a_rank_that_dies_fails_the_command_in_one_line_and_stores_nothing(inputs, tmp_path):
    url = f"sqlite:///{tmp_path / 'brain.db'}"
    done = train(inputs, url, "--processes", "2", env={TEST_EXIT_ENV: "1:1"})
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "huracan: error: rank 1 of 2 died: exit code 3; no model was fitted"
    ] or done.stderr.strip().endswith("rank 1 of 2 died: exit code 3; no model was fitted")
    assert "Traceback" not in done.stderr
    with open_brain(url) as brain:
        assert brain.get_slot("GOOG:1d:fwd_ret_1") is None


@pytest.mark.parametrize(("options", "message"), [
    (("--processes", "0"), "distributed.processes"),
    (("--processes", "2", "--backend", "nccl"), "--backend: backend nccl needs CUDA"),
])
def test_bad_distributed_options_are_one_line(inputs, tmp_path, options, message):
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available() and "nccl" in options:
        pytest.skip("this machine has CUDA")
    url = f"sqlite:///{tmp_path / 'brain.db'}"
    done = train(inputs, url, *options)
    assert done.returncode != 0 and message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
