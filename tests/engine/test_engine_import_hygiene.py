"""engine imports nothing of ours, no UI, and leaves heavy libraries until they are needed."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ["textual", "brain", "scheduler", "huracan_tui", "lightgbm", "sklearn", "torch"]


def test_importing_engine_pulls_in_no_ui_no_siblings_and_no_model_libraries():
    code = (
        "import json, sys\n"
        "import engine, engine.data, engine.features, engine.targets, engine.validation\n"
        "import engine.metrics, engine.models, engine.training, engine.datasets\n"
        f"print(json.dumps([m for m in {FORBIDDEN!r} if m in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []
