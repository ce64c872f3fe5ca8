"""`huracan ensemble SLOT --members 1,2,3 --method stacking`: a new version of the slot that
combines member versions of it (average, performance_weighted, optimised or stacking), its weights
learned from the members' out-of-fold predictions only (engine.ensembles.version); served,
compared (`huracan ab`) and promoted like any version. It writes, so it needs the operator role,
as `huracan train` does; bad input is one line, exit 2, and nothing is written.

`--method regime_router [--axis trend] [--route select|weighted] [--min-rows 30]` stores a regime
router instead (engine.regimes.router): per causal regime label of the axis (the config's
`regimes:` labelling), the member that earned most out of fold there, or weights over them."""

from __future__ import annotations

from huracan_tui.cli.output import CommandError, clean, emit, fmt
from huracan_tui.settings import resolve_brain_url


def register(command) -> None:
    from engine.spec import ENSEMBLE_METHODS, ROUTER_AXES, ROUTER_KIND, ROUTER_METHODS

    ensemble = command("ensemble", run, "store a new version that combines member versions of a slot")
    ensemble.add_argument("slot", help="slot id, e.g. GOOG:1d:fwd_ret_1")
    ensemble.add_argument("--members", required=True, metavar="N,N,...", help="member version numbers")
    ensemble.add_argument("--method", default="average", choices=(*ENSEMBLE_METHODS, ROUTER_KIND),
                          help="how forecasts combine (default: average); regime_router switches by regime")
    ensemble.add_argument("--axis", choices=ROUTER_AXES, default=None,
                          help="regime_router: the regime axis it switches on (default: the config's)")
    ensemble.add_argument("--route", choices=ROUTER_METHODS, default="select",
                          help="regime_router: follow the best member per regime, or weight them "
                               "(default: select)")
    ensemble.add_argument("--min-rows", type=int, default=None, metavar="N",
                          help="regime_router: out-of-fold rows a regime needs for a route of its own "
                               "(default: 30)")


def parse_members(text: str) -> list[int]:
    from huracan_tui.cli.arguments import checked_number

    try:
        members = [int(part) for part in (piece.strip() for piece in text.split(",")) if part]
    except ValueError:
        raise CommandError(f"--members {text!r}: version numbers, comma separated (e.g. 1,2,3)") from None
    for number in members:
        checked_number(number, "--members")
    return members


def run(args, config) -> None:
    from brain import open_brain
    from brain.identity import current_actor
    from engine.ensembles.version import EnsembleError
    from huracan_tui.cli.subcommands.roles import require_operator_here
    from scheduler.services.ensembles import ROUTER_METHOD, train_ensemble
    from scheduler.services.roles import require_writable

    members = parse_members(args.members)
    if args.method == ROUTER_METHOD:
        return run_router(args, config, members)
    if args.axis is not None or args.min_rows is not None:
        raise CommandError(f"--axis and --min-rows are for --method {ROUTER_METHOD}")
    actor, _origin = current_actor()
    with open_brain(resolve_brain_url(args.brain, config)) as brain:
        require_operator_here(brain, config, "ensemble")
        require_writable(brain, "ensemble")
        try:
            version = train_ensemble(brain, args.slot, members, args.method, actor=actor,
                                     regime_config=config.regimes)
        except EnsembleError as error:
            raise CommandError(str(error).splitlines()[0]) from None
        params = version.manifest["params"]
        document = {
            "slot": args.slot,
            "number": version.number,
            "model_kind": version.model_kind,
            "method": args.method,
            "members": members,
            "weights": params["weights"],
            "intercept": params["intercept"],
            "artifact_sha256": version.artifact_sha256,
            "data_start": version.data_start,
            "data_end": version.data_end,
            "folds": len(version.manifest["folds"]),
            "metrics": clean(dict(version.manifest["metrics"])),
        }

    def render(doc) -> str:
        m = doc["metrics"]
        weights = ", ".join(f"v{n} {w:.3f}" for n, w in zip(doc["members"], doc["weights"], strict=True))
        return (f"{doc['slot']} v{doc['number']} ensemble ({doc['method']}: {weights}) "
                f"sharpe={fmt(m.get('sharpe'))} hit={fmt(m.get('hit_rate'))} ic={fmt(m.get('ic'))} "
                f"rmse={fmt(m.get('rmse'))} sha256={doc['artifact_sha256'][:12]}")

    emit(document, args.json, render)


def run_router(args, config, members: list[int]) -> None:
    from brain import open_brain
    from brain.identity import current_actor
    from engine.regimes.router import RouterError, Routing
    from huracan_tui.cli.arguments import checked_number
    from huracan_tui.cli.subcommands.roles import require_operator_here
    from scheduler.services.ensembles import ROUTER_METHOD
    from scheduler.services.roles import require_writable
    from scheduler.services.router import DEFAULT_MIN_ROWS, train_router

    min_rows = checked_number(args.min_rows, "--min-rows") or DEFAULT_MIN_ROWS
    actor, _origin = current_actor()
    with open_brain(resolve_brain_url(args.brain, config)) as brain:
        require_operator_here(brain, config, "ensemble")
        require_writable(brain, "ensemble")
        try:
            version = train_router(brain, args.slot, members, axis=args.axis, method=args.route,
                                   min_rows=min_rows, regimes=config.regimes, actor=actor)
        except RouterError as error:
            raise CommandError(str(error).splitlines()[0]) from None
        params = version.manifest["params"]
        routing = Routing.from_json(params)
        numbers = version.manifest["spec"]["router"]["members"]
        document = {
            "slot": args.slot,
            "number": version.number,
            "model_kind": version.model_kind,
            "method": ROUTER_METHOD,
            "route": args.route,
            "axis": params["axis"],
            "members": members,
            "routes": params["routes"],
            "fallback": params["fallback"],
            "rows": params["rows"],
            "routing": routing.describe(numbers),
            "artifact_sha256": version.artifact_sha256,
            "data_start": version.data_start,
            "data_end": version.data_end,
            "folds": len(version.manifest["folds"]),
            "metrics": clean(dict(version.manifest["metrics"])),
        }

    def render(doc) -> str:
        m = doc["metrics"]
        return (f"{doc['slot']} v{doc['number']} regime_router ({doc['axis']}: {doc['routing']}) "
                f"sharpe={fmt(m.get('sharpe'))} hit={fmt(m.get('hit_rate'))} ic={fmt(m.get('ic'))} "
                f"rmse={fmt(m.get('rmse'))} sha256={doc['artifact_sha256'][:12]}")

    emit(document, args.json, render)
