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
