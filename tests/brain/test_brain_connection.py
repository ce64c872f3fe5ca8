"""Opening brains: URLs, unreachable servers, SQLite pragmas, identity, import hygiene."""

import subprocess
import sys

import pytest
from sqlalchemy import text

from brain import BrainError, default_brain_url, open_brain
from brain.identity import current_actor


def test_default_url_lives_in_the_user_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    url = default_brain_url()
    assert url == f"sqlite:///{tmp_path / 'data' / 'huracan' / 'brain.db'}"
    assert (tmp_path / "data" / "huracan").is_dir()


def test_open_without_url_uses_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    with open_brain() as brain:
        assert brain.backend == "sqlite"
        assert brain.url.endswith("/huracan/brain.db")
    assert (tmp_path / "huracan" / "brain.db").is_file()


def test_sqlite_creates_the_parent_folder(tmp_path):
    with open_brain(f"sqlite:///{tmp_path / 'a' / 'b' / 'brain.db'}") as brain:
        assert brain.schema_version() > 0
    assert (tmp_path / "a" / "b" / "brain.db").is_file()


def test_sqlite_pragmas_are_in_effect(tmp_path):
    with open_brain(f"sqlite:///{tmp_path / 'brain.db'}") as brain:
        with brain._read() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 10000
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL


@pytest.mark.parametrize(
    "url",
    ["mysql://root:hunter2@db.example/huracan", "not a url at all", "redis://localhost:6379/0"],
)
def test_unsupported_url_is_one_clear_line(url):
    with pytest.raises(BrainError) as caught:
        open_brain(url)
    message = str(caught.value)
    assert message.startswith("unsupported brain URL ")
    assert "use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB" in message
    assert "hunter2" not in message
    assert "\n" not in message


def test_sqlite_url_without_a_file_is_refused():
    with pytest.raises(BrainError, match="names no file"):
        open_brain("sqlite://")


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
def test_unreachable_postgres_is_one_clear_line(scheme):
    url = f"{scheme}://postgres:hunter2@127.0.0.1:5999/test"
    with pytest.raises(BrainError) as caught:
        open_brain(url)
    assert str(caught.value) == (
        "cannot reach the brain at postgresql+psycopg://postgres:***@127.0.0.1:5999/test: connection refused"
    )


@pytest.mark.postgres
def test_postgres_spellings_are_normalised(postgres_schema_url):
    plain = postgres_schema_url.replace("postgresql+psycopg://", "postgres://")
    with open_brain(plain) as brain:
        assert brain.backend == "postgresql"
        assert brain.url.startswith("postgresql+psycopg://postgres@127.0.0.1:5432/test")


def test_identity_reports_the_ssh_origin(monkeypatch):
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    monkeypatch.delenv("SSH_CLIENT", raising=False)
    user, origin = current_actor()
    assert user and origin is None
    monkeypatch.setenv("SSH_CLIENT", "10.0.0.9 50022 22")
    assert current_actor()[1] == "10.0.0.9"
    monkeypatch.setenv("SSH_CONNECTION", "192.0.2.7 51234 192.0.2.1 22")
    assert current_actor() == (user, "192.0.2.7")


def test_brain_imports_no_console_engine_or_scheduler():
    code = (
        "import sys, brain; "
        "bad = [m for m in ('textual', 'engine', 'scheduler', 'huracan_tui', 'torch') "
        "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
