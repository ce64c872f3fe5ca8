"""Fixtures shared by the console's tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def terminal_env(tmp_path) -> dict[str, str]:
    return {
        "TERM": "xterm-256color",
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "PYTHONPATH": str(Path.cwd()),
    }


@pytest.fixture(autouse=True)
def private_state_dir(tmp_path, monkeypatch) -> Path:
    """The console remembers theme, sort and interval under XDG state: a test's own folder, never
    the developer's file (a remembered theme would change every snapshot)."""
    state = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    return state
