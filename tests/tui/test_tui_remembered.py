"""What the console remembers for its user between runs (theme, sort, refresh interval) and the one
list of themes that the palette, `:theme`, the config check and the help share."""

from __future__ import annotations

import json

import pytest
from textual.widgets import DataTable

from huracan_tui.console.state_file import default_state_path
from huracan_tui.main import check_console_config
from scheduler.config import ConfigError, HuracanConfig
from tests.tui.helpers import make_app, wait_until
from themes import THEME_NAMES


async def type_command(pilot, text: str) -> None:
    await pilot.press("colon", *text, "enter")
    await pilot.pause()


def heading(app) -> str:
    return str(app.screen.query_one("#models-title").render())


async def ready(pilot) -> None:
    await wait_until(pilot, lambda: pilot.app.screen.query_one("#models", DataTable).row_count == 2,
                     what="slot rows")


async def test_theme_sort_and_interval_are_restored_at_the_next_start(seeded_brain_url, private_state_dir):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await type_command(pilot, "theme nord")  # a Textual theme, as the palette's picker offers
        assert app.theme == "nord"
        await pilot.press("s", "S")  # by the next column (Champ), reversed
        await wait_until(pilot, lambda: "sorted by Champ ↓" in heading(app), what="the sorted heading")
        await type_command(pilot, "interval 7")
        await pilot.press("q")
    assert default_state_path().is_relative_to(private_state_dir)
    assert json.loads(default_state_path().read_text()) == {
        "theme": "nord", "sort_column": "champion", "sort_reverse": True, "refresh_seconds": 7,
        "hint_seen": False}

    again = make_app(seeded_brain_url)
    async with again.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert again.theme == "nord"
        assert (again.screen.sort_column, again.screen.sort_reverse) == ("champion", True)
        assert "sorted by Champ ↓" in heading(again)
        assert again.refresh_seconds == 7


async def test_a_corrupt_state_file_is_ignored_with_a_warning(seeded_brain_url):
    path = default_state_path()
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        warnings = [n for n in app._notifications if n.severity == "warning"]
        assert any(str(path) in n.message for n in warnings)
        assert app.theme == "huracan-dark" and app.screen.sort_column == "slot"
        await type_command(pilot, "theme huracan-light")  # the next change writes a good file
    assert json.loads(path.read_text())["theme"] == "huracan-light"


async def test_one_list_of_themes_in_the_palette_the_prompt_and_the_config(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert set(app.available_themes) == set(THEME_NAMES)  # what the palette's theme picker lists
        await type_command(pilot, "theme")
        listing = list(app._notifications)[-1]
        assert listing.message == ", ".join(THEME_NAMES) and "huracan-dark" in listing.title
        for name in ("huracan-ansi", "dracula"):
            await type_command(pilot, f"theme {name}")
            assert app.theme == name
    check_console_config(HuracanConfig.model_validate({"console": {"theme": "dracula"}}), "huracan.yaml")
    with pytest.raises(ConfigError, match="unknown theme 'no-such'"):
        check_console_config(HuracanConfig.model_validate({"console": {"theme": "no-such"}}), "huracan.yaml")


async def test_a_start_without_changes_remembers_nothing(seeded_brain_url):
    """The config's theme is not frozen into the state file by a start that changed nothing."""
    app = make_app(seeded_brain_url, config=HuracanConfig.model_validate(
        {"console": {"refresh_seconds": 0.2, "theme": "huracan-light"}}))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert app.theme == "huracan-light"
        await pilot.pause()
    assert not default_state_path().exists()
