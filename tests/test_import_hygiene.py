"""Layering, checked in fresh interpreters: the core never imports Textual, and the console
never imports torch (it must start fast; torch alone takes seconds to import)."""

from __future__ import annotations

import subprocess
import sys

import pytest


def modules_after(code: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
                          capture_output=True, text=True, check=True)
    return set(done.stdout.split())


@pytest.mark.parametrize("package", [
    "engine", "engine.data", "engine.features", "engine.training", "engine.models",
    "brain", "scheduler.daemon.headless", "scheduler.daemon.worker", "scheduler.daemon.runners",
])
def test_core_packages_do_not_import_textual(package):
    loaded = modules_after(f"import {package}")
    assert "textual" not in loaded


def test_engine_imports_heavy_libraries_lazily():
    loaded = modules_after("import engine.training, engine.models")
    assert not {"lightgbm", "torch", "xgboost"} & loaded


def test_console_process_does_not_import_torch():
    # Everything the console loads to show its first screen, the app and its screens included.
    loaded = modules_after("import huracan_tui.main, huracan_tui.console.app, huracan_tui.cli.main")
    assert "textual" in loaded
    assert "torch" not in loaded and "lightgbm" not in loaded


def test_console_start_leaves_data_libraries_for_the_views_that_need_them():
    # polars, sqlalchemy.orm and pandas cost a tenth of a second or more each at start-up.
    loaded = modules_after("import huracan_tui.main, huracan_tui.console.app")
    assert not {"polars", "pandas", "sqlalchemy.orm", "scipy", "sklearn"} & loaded


def test_console_start_on_an_up_to_date_brain_skips_migrations_postgresql_and_yaml(tmp_path):
    # Tens of milliseconds of a console's start: migration steps are imported only when a brain
    # needs one, PostgreSQL's dialect only for a PostgreSQL brain, YAML only for a config file.
    from brain import open_brain

    url = f"sqlite:///{tmp_path / 'brain.db'}"
    open_brain(url).close()
    loaded = modules_after("import huracan_tui.main, huracan_tui.console.app\n"
                           "from huracan_tui.settings import resolve_config\n"
                           "from brain import open_brain\n"
                           f"resolve_config(None), open_brain({url!r}).close()")
    assert not [name for name in loaded
                if name.startswith(("brain.migrations.m", "sqlalchemy.dialects.postgresql"))]
    assert "yaml" not in loaded
