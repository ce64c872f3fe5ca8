"""`huracan` and `huracan-tui` as a user runs them: real processes, real files, real brains."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from brain import open_brain
from engine.datasets import bundled_path
from huracan_tui import __version__

BIN = Path(sys.executable).parent


def run(*args: str, env: dict | None = None, tool: str = "huracan") -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / tool), *args], capture_output=True, text=True, timeout=240,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("tool", ["huracan", "huracan-tui"])
def test_help_and_version(tool):
    assert f"{__version__}" in run("--version", tool=tool).stdout
    shown = run("--help", tool=tool)
    assert shown.returncode == 0 and "--brain" in shown.stdout and "--config" in shown.stdout


def test_train_stores_versions_and_prints_one_json_document(any_brain_url, config_file):
    url = any_brain_url
    done = run("train", "--data", str(bundled_path("GOOG")), "--symbol", "GOOG",
               "--brain", url, "--config", str(config_file), "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["slot"] == "GOOG:1d:fwd_ret_1" and document["timeframe"] == "1d"
    assert document["bars"] == 2148
    assert [(v["number"], v["model_kind"]) for v in document["versions"]] == [(1, "linear"), (2, "lightgbm")]
    for version in document["versions"]:
        assert set(version["metrics"]) >= {"mae", "rmse", "hit_rate", "ic", "sharpe"}
        assert version["folds"] == 3
    with open_brain(url) as brain:
        stored = brain.list_versions("GOOG:1d:fwd_ret_1")
        assert [v.artifact_sha256 for v in stored] == [v["artifact_sha256"] for v in document["versions"]]
        assert brain.load_bars("GOOG", "1d").height == 2148

    status = json.loads(run("status", "--json", "--brain", url).stdout)
    (slot,) = status["slots"]
    assert slot["slot"] == "GOOG:1d:fwd_ret_1" and slot["latest_version"] == 2
    assert slot["metrics"]["sharpe"] == pytest.approx(document["versions"][1]["metrics"]["sharpe"])

    shown = json.loads(run("show", "GOOG:1d:fwd_ret_1", "--number", "1", "--json", "--brain", url).stdout)
    (version,) = shown["versions"]
    assert version["model_kind"] == "linear"
    assert version["manifest"]["data_fingerprint"] and version["manifest"]["features"]
    assert {m["fold"] for m in version["metrics"]} == {None, 0, 1, 2}


def test_the_environment_variable_and_the_config_name_the_brain(tmp_path):
    url = f"sqlite:///{tmp_path / 'env.db'}"
    done = run("status", "--json", env={"HURACAN_BRAIN": url})
    assert json.loads(done.stdout)["slots"] == [] and (tmp_path / "env.db").exists()
    config = tmp_path / "c.yaml"
    config.write_text(f"brain: sqlite:///{tmp_path / 'cfg.db'}\n")
    run("status", "--config", str(config))
    assert (tmp_path / "cfg.db").exists()


def test_default_brain_lives_in_the_xdg_data_dir(tmp_path):
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg"), "HURACAN_BRAIN": ""}
    assert run("status", env=env).returncode == 0
    assert (tmp_path / "xdg" / "huracan" / "brain.db").exists()


BAD_FILES = {
    "missing": (None, "not found"),
    "no_close": ("ts,open,high,low,volume\n2024-01-01,1,2,0.5,10\n", "close"),
    "bad_time": ("ts,open,high,low,close,volume\nyesterday,1,2,0.5,1,10\n", "yesterday"),
    "duplicate": ("ts,open,high,low,close,volume\n2024-01-01,1,2,0.5,1,10\n2024-01-01,1,2,0.5,1,10\n",
                  "duplicate"),
    "negative": ("ts,open,high,low,close,volume\n2024-01-01,1,2,0.5,-1,10\n", "close"),
    "high_below_low": ("ts,open,high,low,close,volume\n2024-01-01,1,0.4,0.5,0.45,10\n", "high"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_data_is_one_line_nonzero_and_writes_nothing(tmp_path, case):
    content, expected = BAD_FILES[case]
    data = tmp_path / f"{case}.csv"
    if content is not None:
        data.write_text(content)
    brain_file = tmp_path / "brain.db"
    done = run("train", "--data", str(data), "--symbol", "X", "--brain", f"sqlite:///{brain_file}")
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("huracan: error:") and expected in lines[0].lower()
    assert str(data.name) in lines[0]
    assert "Traceback" not in done.stderr
    assert not brain_file.exists()


def test_bad_config_names_the_file_and_key(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("training:\n  horizon: soon\n")
    for tool in ("huracan", "huracan-tui"):
        args = ("status",) if tool == "huracan" else ()
        done = run(*args, "--config", str(config), "--brain", f"sqlite:///{tmp_path / 'b.db'}", tool=tool)
        assert done.returncode == 2
        assert done.stderr.strip().splitlines() == [
            f"{tool}: error: {config}: training.horizon: "
            "Input should be a valid integer, unable to parse string as an integer"]
    config.write_text("trainning: {}\n")
    done = run("status", "--config", str(config))
    assert done.stderr.strip() == f"huracan: error: {config}: trainning: unknown key"
    assert not (tmp_path / "b.db").exists()


BILLION_LAUGHS = "".join(
    ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"]
    + [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]\n" for n in range(1, 9)]
    + ["training:\n  params:\n    linear: {alpha: *a8}\n"]
)


def test_a_yaml_alias_bomb_is_refused_at_once_naming_the_line(tmp_path):
    """Expanded, this document is 10^9 strings: safe_load would eat memory until killed."""
    config = tmp_path / "bomb.yaml"
    config.write_text(BILLION_LAUGHS)
    for tool in ("huracan", "huracan-tui"):
        args = ("status",) if tool == "huracan" else ()
        done = run(*args, "--config", str(config), "--brain", f"sqlite:///{tmp_path / 'b.db'}", tool=tool)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert done.stderr.strip().splitlines() == [
            f"{tool}: error: {config}: YAML aliases are not allowed (line 2, column 10: *a0); "
            "write the value out in full"]
    assert not (tmp_path / "b.db").exists()


def test_output_into_a_closed_pipe_is_no_traceback(tmp_path):
    """`huracan models --json | head -c 1`: the reader is gone before the document is written."""
    process = subprocess.Popen([str(BIN / "huracan"), "models", "--json"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    process.stdout.close()  # before the interpreter has even started: every write hits EPIPE
    _, stderr = process.communicate(timeout=240)
    assert process.returncode != 0
    assert stderr == b""


def test_unreachable_brain_is_one_line(tmp_path):
    done = run("status", "--brain", "postgresql+psycopg://postgres@127.0.0.1:5999/test")
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1 and "5999" in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_slot_is_one_line(tmp_path):
    done = run("show", "NOPE:1d:fwd_ret_1", "--brain", f"sqlite:///{tmp_path / 'b.db'}")
    assert done.returncode == 2 and "NOPE:1d:fwd_ret_1" in done.stderr


REFUSED_BEFORE = {  # each once trained without a word
    "two_closes": ("ts,open,high,low,close,close,volume\n2024-01-01,1,2,0.5,1,1.5,10\n",
                   [], "'close' (column 5) and 'close' (column 6) both look like 'close'"),
    "offsets": ("ts,open,high,low,close,volume\n2024-01-01 10:00+00:00,1,2,0.5,1,10\n"
                "2024-01-01 11:00+05:00,1,2,0.5,1,10\n2024-01-01 12:00+00:00,1,2,0.5,1,10\n",
                [], "row 2 ('2024-01-01 11:00+05:00')"),
    "year_9999": ("ts,open,high,low,close,volume\n2024-01-01,1,2,0.5,1,10\n9999-01-01,1,2,0.5,1,10\n",
                  [], "in the future"),
    "close_above_high": ("ts,open,high,low,close,volume\n2024-01-01,1,2,0.5,2.5,10\n",
                         [], "close 2.5 is outside [low 0.5, high 2.0]"),
    "cost_inf": ("ts,open,high,low,close,volume\n2024-01-01,1,2,0.5,1,10\n",
                 ["--cost-bps", "inf"], "--cost-bps: Input should be a finite number"),
    "bidi_symbol": ("ts,open,high,low,close,volume\n2024-01-01,1,2,0.5,1,10\n",
                    ["--symbol", "USD\u202eBTC"], "--symbol: symbol 'USD\\u202eBTC'"),
    "long_symbol": ("ts,open,high,low,close,volume\n2024-01-01,1,2,0.5,1,10\n",
                    ["--symbol", "X" * 100_000], "is 100000 characters long"),
    "european": ("Date;Open;High;Low;Close;Volume\n2024-01-02;1,2345;1,25;1,2;1,24;100\n",
                 [], "read the file with decimal ','"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(REFUSED_BEFORE))
def test_input_once_accepted_is_one_line_nonzero_and_writes_nothing(tmp_path, case):
    content, options, expected = REFUSED_BEFORE[case]
    data = tmp_path / f"{case}.csv"
    data.write_text(content)
    brain_file = tmp_path / "brain.db"
    options = options if "--symbol" in options else ["--symbol", "X", *options]
    done = run("train", "--data", str(data), *options, "--brain", f"sqlite:///{brain_file}")
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("huracan: error:") and expected in lines[0], done.stderr
    assert "Traceback" not in done.stderr and len(lines[0]) < 400
    assert not brain_file.exists()


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("training:\n  cost_bps: .inf\n", "training.cost_bps: Input should be a finite number"),
        ("training:\n  threshold_bps: .nan\n", "training.threshold_bps: Input should be a finite number"),
        ("schedule:\n  live_every: .inf\n", "schedule.live_every: duration must be a finite number"),
        ("live:\n  feeds:\n    - {kind: replay, symbol: 'EURUSD:1h', timeframe: 1h, path: x.csv}\n",
         "live.feeds[0].symbol: symbol 'EURUSD:1h': ':' (it separates the parts of a slot id)"),
    ],
)  # fmt: skip
def test_a_config_with_an_unusable_number_or_symbol_names_the_key(tmp_path, yaml_text, expected):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml_text)
    done = run("status", "--config", str(config), "--brain", f"sqlite:///{tmp_path / 'b.db'}")
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"huracan: error: {config}: {expected}")
    assert not (tmp_path / "b.db").exists()
