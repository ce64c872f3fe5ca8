"""Retrain a slot from the console: the operator picks the model kind, the device, the cadence,
the feature recipe and the target (both defaulting to the slot champion's spec), and a train job
is queued with those choices (through the app's commands, so an attached console hands it to the
leader and the leader checks the role again). An "ensemble" kind queues an ensemble job instead,
blending the newest version of each kind of the slot.

Kinds are names from the zoo's registry only: listing them imports no learning library, and the
console never imports torch."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Select, Static

from engine.cadence import Cadence
from scheduler.services.job_params import DEVICE_CHOICES, PROCESS_CHOICES

CADENCE_CHOICES = {
    Cadence.FULL: "full: walk-forward over every fold, then a refit",
    Cadence.QUICK: "quick: at most 2 folds, then a refit",
    Cadence.INCREMENTAL: "incremental: continue from the latest version on new bars",
}
DEVICE_LABELS = {"auto": "auto (CUDA, else Apple MPS, else CPU)", "cpu": "cpu",
                 "cuda": "cuda (the job fails on a machine without one)"}
# Features and their preprocessing, as a retrain offers them: the champion's (the default), or a
# preset. value -> (label, recipe, preprocessing steps).
FEATURE_PRESETS: dict[str, tuple[str, str, tuple[dict, ...]]] = {
    "core": ("core: the 8 core columns, no preprocessing", "core", ()),
    "full": ("full: every indicator (45 columns), no preprocessing", "full", ()),
    "full-pca": ("full → scale → PCA keeping 95% of the variance", "full",
                 ({"step": "scale"}, {"step": "pca", "variance": 0.95})),
}
AS_CHAMPION = "champion"
# The meta-layer as a "kind": blend the newest version of each kind of the slot (no refit of the
# members; the ensemble's weights are learned from their out-of-fold predictions only).
ENSEMBLE_KIND = "ensemble:"
ENSEMBLE_LABELS = {
    "stacking": "ensemble · stacking of the newest version of each kind",
    "optimised": "ensemble · optimised weights (newest version of each kind)",
    "performance_weighted": "ensemble · weighted by out-of-fold Sharpe (newest of each kind)",
    "average": "ensemble · average of the newest version of each kind",
    # engine.regimes.router: per causal regime label, the kind that earned most out of fold there.
    "regime_router": "regime router · newest of each kind, switched by the bar's regime",
}
TARGET_LABELS = {"fwd_ret": "fwd_ret: forward return (bps)",
                 "net_edge": "net_edge: forward move after costs (bps)",
                 "direction": "direction: up / (hold) / down (classifier kinds)"}


@dataclass(frozen=True)
class RetrainChoice:
    kind: str
    device: str
    cadence: str
    features: str = AS_CHAMPION  # a FEATURE_PRESETS key, or the champion's recipe and steps
    learns: str = "fwd_ret"  # the spec's target kind
    processes: int = 1  # neural kinds: ranks one fit spans (torch DDP); 1 sends nothing

    def command_args(self, slot_key: str) -> dict:
        """The `retrain` command's arguments (scheduler.services.requests queues the job from them);
        `target` is the audit's (the slot), `learns` the spec's target kind. The champion's
        features send nothing: the retrain carries the champion's recipe and steps. An ensemble
        "kind" asks for a blend of the slot's versions, and nothing else applies to it."""
        if self.kind.startswith(ENSEMBLE_KIND):
            return {"slot": slot_key, "kinds": [], "ensemble": self.kind.removeprefix(ENSEMBLE_KIND),
                    "target": slot_key}
        args = {"slot": slot_key, "kinds": [self.kind], "device": self.device, "cadence": self.cadence,
                "target": slot_key, "learns": self.learns}
        if self.features in FEATURE_PRESETS:
            _label, recipe, steps = FEATURE_PRESETS[self.features]
            args.update(recipe=recipe, preprocessing=[dict(step) for step in steps])
        if self.processes > 1:
            args["processes"] = self.processes
        return args


class ChampionSpec(Message):
    """The champion's (else newest version's) kind, recipe, steps and target kind, read off the UI
    thread."""

    def __init__(self, recipe: str | None, steps: str = "", learns: str = "fwd_ret",
                 kind: str | None = None) -> None:
        super().__init__()
        self.recipe, self.steps, self.learns, self.kind = recipe, steps, learns, kind


def retrain_kinds() -> dict[str, str]:
    """The kinds that can train here, simplest first, with their task (regression or
    classification): engine.models' registry and cards only, no learning library."""
    from engine.models import model_class, zoo

    return {entry["kind"]: str(getattr(model_class(entry["kind"]), "task", "regression"))
            for entry in zoo() if entry["available"]}


def data_parallel_kinds(kinds) -> set[str]:
    """The kinds one fit of which can span processes: those that take a `processes` parameter."""
    from engine.models import model_class

    return {kind for kind in kinds if "processes" in model_class(kind).param_names()}


def fits_target(task: str, learns: str) -> bool:
    """A classifier learns a direction, a regressor a number (as job_params checks it)."""
    return (task == "classification") == (learns == "direction")


def learns_from(kind: str, learns: str) -> bool:
    """Whether `kind` accepts the target `learns`: a kind bound to some targets names them
    (`target_kinds`: the agents learn from the next bar's return only)."""
    from engine.models import model_class

    targets = getattr(model_class(kind), "target_kinds", None)
    return not targets or learns in targets


def kind_options(kinds: dict[str, str], learns: str) -> list[tuple[str, str]]:
    """The kinds that can learn `learns`, then the ensembles (they blend the slot's own versions)."""
    fitting = [kind for kind, task in kinds.items()
               if fits_target(task, learns) and learns_from(kind, learns)]
    return [*((kind, kind) for kind in fitting),
            *((label, ENSEMBLE_KIND + method) for method, label in ENSEMBLE_LABELS.items())]


class RetrainScreen(ModalScreen[RetrainChoice | None]):
    """Dismisses with the operator's RetrainChoice, or None (Esc)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="retrain-cancel")]
    DEFAULT_CSS = """
    RetrainScreen {
        align: center middle;
    }
    RetrainScreen Select {
        width: 100%;
    }
    RetrainScreen Label {
        margin-top: 1;  /* a blank line between questions: all five and the hint fit 80x24 */
    }
    RetrainScreen #retrain-first {
        margin-top: 0;
    }
    RetrainScreen #retrain-device-row {
        height: 1;
    }
    RetrainScreen #retrain-device {
        width: 1fr;
    }
    RetrainScreen #retrain-processes {
        width: 18;
    }
    """

    def __init__(self, slot_key: str, kinds: dict[str, str], kind: str, *, cadence: str = "full") -> None:
        """`kinds`: kind -> task (retrain_kinds); `kind`: the default until the champion's is read."""
        super().__init__()
        self.slot_key = slot_key
        self.kinds = kinds
        self.learns = "fwd_ret"
        first = next(value for _, value in kind_options(kinds, self.learns))
        self.default_kind = kind if kind in kinds and fits_target(kinds[kind], self.learns) else first
        self.default_cadence = cadence
        self.neural_kinds = data_parallel_kinds(kinds)

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-dialog"):
            yield Static(f"Retrain {self.slot_key}", classes="section-title")
            yield Label("Model kind (those that can learn the target; type to search)", id="retrain-first")
            yield Select(kind_options(self.kinds, self.learns), value=self.default_kind, allow_blank=False,
                         id="retrain-kind", compact=True)
            yield Label("Device (neural kinds; the others train on the CPU)")
            with Horizontal(id="retrain-device-row"):
                yield Select([(DEVICE_LABELS[name], name) for name in DEVICE_CHOICES], value="auto",
                             allow_blank=False, id="retrain-device", compact=True)
                # One fit across N processes (torch DDP): offered for the neural kinds only.
                yield Select([(f"{n} process{'es' if n > 1 else ''}", n) for n in PROCESS_CHOICES],
                             value=1, allow_blank=False, id="retrain-processes", compact=True)
            yield Label("Cadence")
            yield Select([(label, name) for name, label in CADENCE_CHOICES.items()],
                         value=self.default_cadence, allow_blank=False, id="retrain-cadence", compact=True)
            yield Label("Features and preprocessing (default: the champion's)", id="retrain-features-label")
            yield Select([("as the champion", AS_CHAMPION),
                          *((label, name) for name, (label, _r, _s) in FEATURE_PRESETS.items())],
                         value=AS_CHAMPION, allow_blank=False, id="retrain-features", compact=True)
            yield Label("Target (default: the champion's)")
            yield Select([(label, name) for name, label in TARGET_LABELS.items()], value="fwd_ret",
                         allow_blank=False, id="retrain-target", compact=True)
            # Compact widgets: the whole dialog fits an 80x24 terminal.
            yield Button("Queue retrain", id="retrain-queue", variant="primary", compact=True)
            yield Static("Tab moves · Enter opens a list or queues · Esc cancels", id="retrain-hint")

    def on_mount(self) -> None:
        self.champion_loaded = False  # until the champion's spec is read (tests wait on it)
        self.query_one("#retrain-processes", Select).display = self.default_kind in self.neural_kinds
        self.champion_features = ""
        self.load_champion_spec()

    @work(thread=True, exclusive=True)
    def load_champion_spec(self) -> None:
        from engine.spec import SpecError, spec_summary  # pydantic only

        brain = self.app.brain
        version = brain.champion(self.slot_key) or brain.latest_version(self.slot_key)
        try:
            summary = None if version is None else spec_summary(version.manifest)
        except SpecError:
            summary = None
        if summary is None:  # nothing to default to: the presets as they are
            self.post_message(ChampionSpec(None))
            return
        kind = version.model_kind
        if kind == "ensemble":  # retrained as what it is: a blend by the same method
            ensemble = (version.manifest.get("spec") or {}).get("ensemble") or {}
            kind = ENSEMBLE_KIND + str(ensemble.get("method"))
        elif kind == "regime_router":  # and a router as a router
            kind = ENSEMBLE_KIND + kind
        self.post_message(ChampionSpec(summary.recipe, summary.preprocessing, summary.target_kind, kind))

    @on(ChampionSpec)
    def _preselect(self, message: ChampionSpec) -> None:
        self.champion_loaded = True
        if message.recipe is None:
            return
        self.champion_features = f"{message.recipe}, preprocessing {message.steps}"
        self.query_one("#retrain-features-label", Label).update(
            f"Features and preprocessing (the champion's: {self.champion_features})")
        self.query_one("#retrain-target", Select).value = message.learns
        self._offer_kinds(message.learns, prefer=message.kind)

    @on(Select.Changed, "#retrain-kind")
    def _kind_changed(self, event: Select.Changed) -> None:
        # Only a neural kind trains across processes: the others are not offered the field.
        self.query_one("#retrain-processes", Select).display = str(event.value) in self.neural_kinds

    @on(Select.Changed, "#retrain-target")
    def _target_changed(self, event: Select.Changed) -> None:
        if event.value != self.learns:
            self._offer_kinds(str(event.value))

    def _offer_kinds(self, learns: str, *, prefer: str | None = None) -> None:
        """Only the kinds that can learn `learns`; the one chosen stays where it still fits."""
        self.learns = learns
        select = self.query_one("#retrain-kind", Select)
        options = kind_options(self.kinds, learns)
        values = [value for _, value in options]
        keep = next((kind for kind in (prefer, select.value) if kind in values), values[0])
        select.set_options(options)
        select.value = keep

    def choice(self) -> RetrainChoice:
        return RetrainChoice(
            kind=str(self.query_one("#retrain-kind", Select).value),
            device=str(self.query_one("#retrain-device", Select).value),
            cadence=str(self.query_one("#retrain-cadence", Select).value),
            features=str(self.query_one("#retrain-features", Select).value),
            learns=str(self.query_one("#retrain-target", Select).value),
            processes=int(self.query_one("#retrain-processes", Select).value)
            if self.query_one("#retrain-processes", Select).display else 1,
        )

    @on(Button.Pressed, "#retrain-queue")
    def _queue(self) -> None:
        self.dismiss(self.choice())

    def action_cancel(self) -> None:
        self.dismiss(None)


def open_retrain(app, slot_key: str = "") -> None:
    """Ask for the kind, device and cadence of a retrain of `slot_key` (default: the slot in
    view), then queue it. Viewers are refused before anything is asked (by app.run_action)."""
    from huracan_tui.console.screens.slot_view import slot_in_view

    slot = slot_key or slot_in_view(app)
    if slot is None:
        app.notify("No slots in the brain yet: train a model first (d on the Models view).",
                   severity="warning")
        return
    configured = app.config.training.models

    def queue(choice: RetrainChoice | None) -> None:
        if choice is not None:
            app.submit_request("retrain", choice.command_args(slot))

    app.push_screen(RetrainScreen(slot, retrain_kinds(), configured[0] if configured else "linear",
                                  cadence=app.config.training.cadence), queue)
