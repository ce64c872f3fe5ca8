"""A slot in detail: its versions, the walk-forward folds and metrics of the chosen version,
that version's spec (recipe, preprocessing, target, alternative data) and manifest (data window,
fingerprint, features, hyperparameters, libraries), the bars the live loop could not serve, and
equity curves: the chosen version's walk-forward one and the champion's live one since its promotion
(scheduler.services.equity, read in a worker per version shown), and the slot's newest stress result
(scheduler.services.stress, shown only once there is one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from brain.records import MetricRecord, VersionRecord
from huracan_tui.console import formatting as fmt
from huracan_tui.console.actions import bindings
from huracan_tui.console.scorecard_text import scorecard_text
from huracan_tui.console.screens.base import HuracanScreen
from huracan_tui.console.stress_text import stress_text
from huracan_tui.console.widgets.equity_chart import EquityChart
from huracan_tui.console.widgets.footer import ConsoleFooter
from huracan_tui.console.widgets.status_bar import StatusBar
from scheduler.services.equity import VersionEquity, version_equity
from scheduler.services.scorecard import Scorecard, version_scorecard
from scheduler.services.stress import StoredStress, latest_stress

VERSION_COLUMNS = (("number", "Ver"), ("model", "Model"), ("sharpe", "Sharpe"), ("hit", "Hit rate"),
                   ("ic", "IC"), ("rmse", "RMSE bps"), ("trained", "Trained (UTC)"))
FOLD_COLUMNS = (("fold", "Fold"), ("train", "Train rows"), ("test", "Test window (UTC)"),
                ("n", "N"), ("sharpe", "Sharpe"), ("hit", "Hit rate"), ("ic", "IC"),
                ("rmse", "RMSE bps"), ("mae", "MAE bps"))
MANIFEST_KEYS = ("model_kind", "target", "horizon", "timeframe", "cost_bps", "seed", "n_rows",
                 "data_start", "data_end", "data_fingerprint", "artifact_sha256", "artifact_format",
                 "features", "params", "library_versions")


@dataclass(frozen=True)
class SlotDetail:
    versions: list[VersionRecord]
    metrics: dict[int, list[MetricRecord]]  # version id -> metrics
    # serve gaps: state -> (bars, newest bar), and the newest gap's detail
    gaps: dict[str, tuple[int, datetime]] = field(default_factory=dict)
    newest_gap: str | None = None
    champion: int | None = None  # the slot's champion version, marked in the versions table
    stress: StoredStress | None = None  # the slot's newest `huracan stress` result


class DetailLoaded(Message):
    def __init__(self, detail: SlotDetail) -> None:
        super().__init__()
        self.detail = detail


class EquityLoaded(Message):
    def __init__(self, equity: VersionEquity, scorecard: Scorecard) -> None:
        super().__init__()
        self.equity = equity
        self.scorecard = scorecard


NO_WALK_FORWARD = "trained before out-of-sample predictions were stored"


def overall(metrics: list[MetricRecord]) -> dict[str, float | None]:
    return {m.name: m.value for m in metrics if m.fold is None}


CARD_FIELDS = (("purpose", "purpose"), ("ideal_input", "ideal input"),
               ("feature_requirements", "features"), ("output_schema", "output"), ("regimes", "regimes"))


def card_text(model_kind: str) -> str:
    """The zoo's info card for a kind: what the model is for and what it wants."""
    from engine.models import model_class  # cheap: no learning library is imported

    try:
        card = model_class(model_kind).card.to_dict()
    except (ValueError, AttributeError):
        return f"[b]{'model':<17}[/b] {model_kind} (no card: unknown to this huracan)"
    lines = [f"[b]{'model card':<17}[/b] {card['kind']} · {card['family']} · {card['task']} · "
             f"{card['library']}"]
    for key, label in CARD_FIELDS:
        value = card[key]
        lines.append(f"[b]{label:<17}[/b] {', '.join(value) if isinstance(value, list) else value}")
    return "\n".join(lines)


def version_label(version: VersionRecord, champion: int | None) -> Text:
    """'★ v2' for the champion (bold), 'v3' for a challenger, a pruned one struck through."""
    if version.number == champion:
        return Text(f"★ v{version.number}", style="bold green", justify="right")
    if version.status == "pruned":
        return Text(f"v{version.number}", style="dim strike", justify="right")
    return fmt.right(f"v{version.number}")


def spec_text(manifest: dict) -> str:
    """The version's spec: recipe and inputs, preprocessing, target, alternative data."""
    from engine.spec import SpecError, spec_summary  # pydantic only

    try:
        summary = spec_summary(manifest)
    except SpecError as error:
        return f"[b]{'spec':<17}[/b] unreadable: {error}"
    return "\n".join(f"[b]{label:<17}[/b] {value}" for label, value in summary.lines())


GAP_WORDS = {"alt_missing": "alt data missing", "alt_stale": "alt data too old",
             "features_not_ready": "features not ready"}


def gaps_text(gaps: dict[str, tuple[int, datetime]], newest: str | None) -> str:
    """One warning line for the bars the live loop could not serve; empty when there are none."""
    if not gaps:
        return ""
    parts = ", ".join(f"{GAP_WORDS.get(state, state)} on {count} bar{'s' * (count != 1)}"
                      for state, (count, _newest) in sorted(gaps.items()))
    last = max(newest_bar for _count, newest_bar in gaps.values())
    return f"[b $warning]not served[/] {parts} (newest {fmt.timestamp(last)}: {newest})"


def manifest_text(manifest: dict) -> str:
    lines = []
    for key in MANIFEST_KEYS:
        value = manifest.get(key)
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list):
            value = ", ".join(map(str, value))
        lines.append(f"[b]{key:<17}[/b] {value if value is not None else '-'}")
    return "\n".join(lines)


class ModelDetailScreen(HuracanScreen):
    BINDINGS = bindings("detail")

    def __init__(self, slot_key: str) -> None:
        super().__init__()
        self.slot_key = slot_key
        self.detail: SlotDetail | None = None
        self.shown_version: int | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield Static(f"Slot {self.slot_key}: versions", classes="section-title", id="detail-title")
        versions = DataTable(id="versions", cursor_type="row", zebra_stripes=True, fixed_columns=1)
        for key, label in VERSION_COLUMNS:
            versions.add_column(label, key=key)
        yield versions
        gaps = Static("", id="serve-gaps")
        gaps.display = False  # shown only when the live loop left bars unserved
        yield gaps
        yield Static("Walk-forward folds (out of sample)", classes="section-title", id="folds-title")
        folds = DataTable(id="folds", cursor_type="none", show_cursor=False, fixed_columns=1)
        for key, label in FOLD_COLUMNS:
            folds.add_column(label, key=key)
        yield folds
        with VerticalScroll(id="manifest-scroll"):
            # the champion's live curve first: at 80x24 it fills the visible rows exactly
            yield EquityChart(id="equity-live")
            yield EquityChart(id="equity-walk-forward")
            yield Static("", id="scorecard")
            stress = Static("", id="stress")
            stress.display = False  # shown only once the slot has been stressed
            yield stress
            yield Static("", id="manifest")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        if self.app.snapshot is not None:
            self.query_one(StatusBar).show(self.app.status_line(self.app.snapshot))
        self.load_detail()

    @work(thread=True, exclusive=True)
    def load_detail(self) -> None:
        brain = self.app.brain
        versions = brain.list_versions(self.slot_key)
        gaps = brain.serve_gap_summary(self.slot_key)
        newest = brain.list_serve_gaps(self.slot_key, limit=1) if gaps else []
        champion = brain.champion(self.slot_key)
        detail = SlotDetail(versions, {v.id: brain.version_metrics(v.id) for v in versions}, gaps,
                            newest[0].detail if newest else None,
                            None if champion is None else champion.number,
                            latest_stress(brain, self.slot_key))
        self.post_message(DetailLoaded(detail))

    @on(DetailLoaded)
    def _show_detail(self, message: DetailLoaded) -> None:
        self.detail = message.detail
        gaps = self.query_one("#serve-gaps", Static)
        gaps.update(gaps_text(self.detail.gaps, self.detail.newest_gap))
        gaps.display = bool(self.detail.gaps)
        if self.detail.stress is not None:
            stress = self.query_one("#stress", Static)
            stress.update(stress_text(self.detail.stress))
            stress.display = True
        table = self.query_one("#versions", DataTable)
        table.clear()
        for version in reversed(self.detail.versions):  # newest first
            metrics = overall(self.detail.metrics[version.id])
            table.add_row(
                version_label(version, self.detail.champion),
                version.model_kind,
                fmt.signed(metrics.get("sharpe")),
                fmt.percent(metrics.get("hit_rate")),
                fmt.signed(metrics.get("ic"), 3),
                fmt.right(fmt.number(metrics.get("rmse"), 1)),
                fmt.timestamp(version.created_at),
                key=str(version.number),
            )
        if self.detail.versions:
            self.show_version(self.detail.versions[-1].number)

    @work(thread=True, exclusive=True, group="equity")
    def load_equity(self, number: int) -> None:
        brain = self.app.brain
        self.post_message(EquityLoaded(version_equity(brain, self.slot_key, number),
                                       version_scorecard(brain, self.slot_key, number)))

    @on(EquityLoaded)
    def _show_equity(self, message: EquityLoaded) -> None:
        equity = message.equity
        if equity.version != self.shown_version:
            return  # the operator moved on to another version while this one was read
        version = next(v for v in self.detail.versions if v.number == equity.version)
        self.query_one("#scorecard", Static).update(scorecard_text(message.scorecard))
        walk_forward = self.query_one("#equity-walk-forward", EquityChart)
        walk_forward.show(f"[b]v{version.number} {version.model_kind} walk-forward[/b]", equity.walk_forward,
                          NO_WALK_FORWARD)
        live = self.query_one("#equity-live", EquityChart)
        if equity.live is None:
            live.show("[b]live[/b]", None, "no champion yet to draw")
        else:
            bars = 0 if equity.live.curve is None else len(equity.live.curve.timestamps)
            live.show(f"[b]★ v{equity.live.version} live since {fmt.timestamp(equity.live.since)}[/b] · "
                      f"{bars} matured forecast{'s' * (bars != 1)}",
                      equity.live.curve, "no forecast made since the promotion has matured yet")

    @on(DataTable.RowHighlighted, "#versions")
    def _version_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.detail is not None and event.row_key.value is not None:
            self.show_version(int(event.row_key.value))

    def show_version(self, number: int) -> None:
        version = next(v for v in self.detail.versions if v.number == number)
        metrics = self.detail.metrics[version.id]
        if number != self.shown_version:
            self.shown_version = number
            self.load_equity(number)
        self.query_one("#folds-title", Static).update(
            f"v{number} {version.model_kind}: walk-forward folds (out of sample)")
        folds = self.query_one("#folds", DataTable)
        folds.clear()
        from engine.manifest import Manifest

        for fold in Manifest.from_json(version.manifest).folds:
            values = {m.name: m.value for m in metrics if m.fold == fold.index}
            folds.add_row(
                fmt.right(str(fold.index)),
                fmt.right(str(fold.train_rows)),
                f"{fmt.timestamp(fold.test_start_ts)} → {fmt.timestamp(fold.test_end_ts)}",
                fmt.right(fmt.number(values.get("n"), 0)),
                fmt.signed(values.get("sharpe")),
                fmt.percent(values.get("hit_rate")),
                fmt.signed(values.get("ic"), 3),
                fmt.right(fmt.number(values.get("rmse"), 1)),
                fmt.right(fmt.number(values.get("mae"), 1)),
            )
        self.query_one("#manifest", Static).update(
            card_text(version.model_kind) + "\n\n" + spec_text(version.manifest) + "\n\n"
            + manifest_text(version.manifest))

    def action_back(self) -> None:
        self.app.pop_screen()
