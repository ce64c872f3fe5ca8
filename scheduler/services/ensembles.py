"""Ensemble versions of a slot: member versions combined by a method, trained on the members'
out-of-fold predictions only (engine.ensembles.version) and stored like any version
(scheduler.services.training.store_result: artifact, manifest, metrics and audit in one
transaction), so the live loop serves them, `huracan ab` compares them (engine.abtest replays an
ensemble from its self-contained manifest) and promotion judges them as it does every version.
"""

from __future__ import annotations

from brain import Brain
from brain.records import VersionRecord
from engine.ensembles.version import KIND, EnsembleError, MemberVersion, ensemble_spec, train_ensemble_version
from engine.regimes import RegimeConfig
from engine.spec import ENSEMBLE_METHODS, ROUTER_KIND


def member_versions(brain: Brain, slot_key: str, members: list[int]) -> list[MemberVersion]:
    """The stored member versions, refused (EnsembleError, one line naming what) unless they can be
    combined: a known slot, at least two distinct versions of it, none an ensemble or pruned."""
    slot = brain.get_slot(slot_key)
    if slot is None:
        known = ", ".join(s.key for s in brain.list_slots()) or "none yet"
        raise EnsembleError(f"no slot {slot_key} (slots: {known})")
    if len(members) < 2:
        raise EnsembleError(f"members: an ensemble needs at least 2 versions, got {len(members)}")
    if len(set(members)) != len(members):
        raise EnsembleError(f"members: a version repeats ({', '.join(f'v{n}' for n in members)})")
    stored = {version.number: version for version in brain.list_versions(slot_key)}
    found = []
    for number in members:
        version = stored.get(number)
        if version is None:
            elsewhere = [s.key for s in brain.list_slots() if s.key != slot_key
                         and number in {v.number for v in brain.list_versions(s.key)}]
            hint = f"; {' and '.join(elsewhere)} has one, but members come from one slot" if elsewhere else ""
            raise EnsembleError(
                f"members: {slot_key} has no version {number} (versions: {sorted(stored)}){hint}"
            )
        if version.model_kind == KIND:
            raise EnsembleError(
                f"members: {slot_key} v{number} is an ensemble itself; list its members instead"
            )
        if version.status == "pruned":
            raise EnsembleError(f"members: {slot_key} v{number} is pruned")
        found.append(MemberVersion(version.number, version.id, version.artifact_sha256, version.manifest))
    return found


def blends(kind: str) -> bool:
    """Whether a kind's forecasts can be blended with others': an agent's are positions, not
    forecasts of the target (engine.models: the agents name the targets they learn from)."""
    from engine.models import model_class

    card = getattr(model_class(kind), "card", None)
    return getattr(card, "family", None) != "reinforcement"


def newest_of_each_kind(brain: Brain, slot_key: str) -> list[int]:
    """The newest version of each plain kind of the slot that is not pruned, oldest kind first:
    the members a console's "ensemble" retrain blends. EnsembleError with fewer than two."""
    if brain.get_slot(slot_key) is None:
        raise EnsembleError(f"no slot {slot_key}")
    newest: dict[str, int] = {}
    for version in brain.list_versions(slot_key):  # in version order: the last of a kind wins
        if (version.model_kind not in (KIND, ROUTER_KIND) and version.status != "pruned"
                and blends(version.model_kind)):
            newest[version.model_kind] = version.number
    if len(newest) < 2:
        raise EnsembleError(
            f"{slot_key} has versions of {len(newest)} kind(s); an ensemble blends at least 2 kinds"
        )
    return sorted(newest.values())


# What `huracan ensemble` and the console's retrain build: the blends, and the regime router
# (scheduler.services.router), whose members come the same way.
ROUTER_METHOD = ROUTER_KIND
BUILD_METHODS = (*ENSEMBLE_METHODS, ROUTER_METHOD)


def check_method(method: str) -> str:
    if method not in BUILD_METHODS:
        raise EnsembleError(f"method {method!r}: one of {', '.join(BUILD_METHODS)}")
    return method


def train_ensemble(
    brain: Brain, slot_key: str, members: list[int], method: str, *, actor: str = "system",
    regime_config: RegimeConfig | None = None,
) -> VersionRecord:
    """Train and store an ensemble version of `slot_key` combining its versions `members` by
    `method`, its out-of-sample metrics by regime labelled by `regime_config` (None: the
    defaults). EnsembleError (one line) for bad input, before anything is written."""
    from scheduler.services.training import store_result

    if check_method(method) == ROUTER_METHOD:
        return _train_router(brain, slot_key, members, actor=actor, regime_config=regime_config)
    found = member_versions(brain, slot_key, members)
    spec = ensemble_spec(found, method)  # members that cannot be combined fail before any fit
    slot = brain.get_slot(slot_key)
    assert slot is not None  # member_versions refused an unknown slot
    frame = brain.load_bars(slot.symbol, slot.timeframe)
    if frame.is_empty():
        raise EnsembleError(f"the brain holds no {slot.timeframe} bars for {slot.symbol}")
    alt = {item.kind: brain.load_alt_data(item.kind, slot.symbol) for item in spec.alt}
    result = train_ensemble_version(frame, found, method, alt=alt)
    return store_result(brain, slot, result, actor=actor, regime_config=regime_config)


def _train_router(brain: Brain, slot_key: str, members: list[int], *, actor: str,
                  regime_config: RegimeConfig | None) -> VersionRecord:
    """A regime router of `members` on the labelling config `regime_config` (None: the defaults)
    and its own axis, its one-line refusals worded as an ensemble's are."""
    from engine.regimes.router import RouterError
    from scheduler.services.router import train_router

    try:
        return train_router(brain, slot_key, members, actor=actor, regimes=regime_config)
    except RouterError as error:
        raise EnsembleError(str(error)) from None
