"""`huracan export TARGET …` and `huracan import TARGET …`: moving models out of and into a brain.

  huracan export bundle SLOT --out DIR [--versions 1,3]
  huracan import bundle DIR [--as-slot SYMBOL:TF:TARGET] [--promote [--force]]

A bundle (scheduler.services.bundles) is a folder of plain files: each version's manifest,
spec, metrics, artifact, fitted preprocessing and out-of-sample predictions, the slot's champion
and lifecycle history, and `bundle.json`, which lists every file with its sha256 and size. An
ensemble's members travel with it. Exporting only reads the brain. Importing writes, so it needs
the operator role (as `huracan train` does); it verifies every file before it writes anything,
then stores all versions in one transaction; importing the same bundle again adds nothing. The
source's champion is not made champion here unless --promote is given, and then through the one
promotion path (an operator request, audited, with its reason naming the bundle).

Each command takes its target as a positional choice; a new target (another format, another
registry) is one more entry of EXPORT_TARGETS or IMPORT_TARGETS with its own arguments and run.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from huracan_tui.cli.output import CommandError, emit
from huracan_tui.cli.subcommands.mlflow_export import add_mlflow_arguments, run_mlflow_export
from huracan_tui.settings import add_global_options, resolve_brain_url


@dataclass(frozen=True)
class Target:
    """One thing `export` or `import` can move: its help line, its arguments and its run."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, object], None]


def register(command) -> None:
    _register_targets(command("export", _dispatch(EXPORT_TARGETS), "write a slot's models out of the brain"),
                      EXPORT_TARGETS)
    _register_targets(command("import", _dispatch(IMPORT_TARGETS), "load models into the brain"),
                      IMPORT_TARGETS)


def _register_targets(parser: argparse.ArgumentParser, targets: dict[str, Target]) -> None:
    choices = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    for name, target in targets.items():
        sub = choices.add_parser(name, help=target.help, description=target.help)
        add_global_options(sub, suppress_defaults=True)
        sub.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                         help="print one JSON document on stdout")
        target.add_arguments(sub)


def _dispatch(targets: dict[str, Target]):
    def run(args, config) -> None:
        targets[args.target].run(args, config)

    return run


# ---- export bundle ------------------------------------------------------------------------------


def _export_bundle_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("slot", help="slot id, e.g. GOOG:1d:fwd_ret_1")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="the bundle's folder (new, or empty)")
    parser.add_argument("--versions", metavar="N,N,...",
                        help="version numbers (default: all); an ensemble's members are added")


def parse_numbers(text: str | None, option: str) -> list[int] | None:
    from huracan_tui.cli.arguments import checked_number

    if text is None:
        return None
    try:
        numbers = [int(part) for part in (piece.strip() for piece in text.split(",")) if part]
    except ValueError:
        raise CommandError(f"{option} {text!r}: version numbers, comma separated (e.g. 1,3)") from None
    if not numbers:
        raise CommandError(f"{option} {text!r}: name at least one version")
    for number in numbers:
        checked_number(number, option)
    return sorted(set(numbers))


def run_export_bundle(args, config) -> None:
    from brain import open_brain
    from huracan_tui import __version__
    from scheduler.services.bundles import BundleError, export_bundle

    numbers = parse_numbers(args.versions, "--versions")
    with open_brain(resolve_brain_url(args.brain, config)) as brain:
        try:
            index = export_bundle(brain, args.slot, args.out, numbers=numbers, huracan_version=__version__)
        except BundleError as error:
            raise CommandError(str(error)) from None
    document = {
        "bundle": str(args.out), "bundle_id": index.bundle_id, "slot": index.slot.key,
        "source_backend": index.source_backend, "champion": index.champion,
        "versions": [{"number": v.number, "model_kind": v.model_kind, "status": v.status,
                      "artifact_sha256": v.artifact_sha256, "members": list(v.members)}
                     for v in index.versions],
        "files": len(index.files), "bytes": sum(item.size for item in index.files),
    }

    def render(doc) -> str:
        versions = ", ".join(f"v{v['number']} {v['model_kind']}" for v in doc["versions"])
        champion = "none" if doc["champion"] is None else f"v{doc['champion']}"
        return (f"{doc['slot']}: {len(doc['versions'])} version(s) ({versions}) -> {doc['bundle']} "
                f"({doc['files']} files, {doc['bytes']} bytes, bundle {doc['bundle_id']}); "
                f"champion {champion}")

    emit(document, args.json, render)


# ---- import bundle ------------------------------------------------------------------------------


def _import_bundle_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, metavar="DIR", help="a folder written by `huracan export bundle`")
    parser.add_argument("--as-slot", metavar="SLOT",
                        help="store the versions in this slot (same timeframe and target, another symbol)")
    parser.add_argument("--promote", action="store_true",
                        help="make the source's champion the champion here (an audited promotion)")
    parser.add_argument("--force", action="store_true",
                        help="with --promote: promote without a passing A/B verdict against the "
                             "champion here")


def run_import_bundle(args, config) -> None:
    from brain import BrainError, open_brain
    from brain.identity import current_actor
    from huracan_tui.cli.lifecycle import carry_out
    from huracan_tui.cli.subcommands.roles import require_operator_here
    from scheduler.services.bundles import BundleError, import_bundle, read_bundle, target_slot
    from scheduler.services.roles import require_writable

    if args.force and not args.promote:
        raise CommandError("--force goes with --promote (it forces the promotion)")
    try:  # every file verified before the brain is opened for writing: a bad bundle writes nothing
        bundle = read_bundle(args.path)
        slot = target_slot(bundle, args.as_slot).key
    except BundleError as error:
        raise CommandError(str(error)) from None
    source_champion = bundle.index.champion
    if args.promote and source_champion not in {v.source_number for v in bundle.versions}:
        held = "had no champion" if source_champion is None else f"champion v{source_champion} is not in it"
        raise CommandError(f"--promote: the bundle's slot {held}")
    actor, origin = current_actor()
    url = resolve_brain_url(args.brain, config)
    with open_brain(url) as brain:
        require_operator_here(brain, config, "import bundle")
        require_writable(brain, "import bundle")
        try:
            result = import_bundle(brain, bundle, as_slot=args.as_slot, actor=actor, origin=origin)
        except BundleError as error:
            raise CommandError(str(error)) from None
        promoted = None
        champion_now = brain.champion(slot)
        if args.promote and result.champion_here is not None and (
            champion_now is None or champion_now.number != result.champion_here
        ):
            reason = (f"imported from bundle {result.bundle_id} ({bundle.index.slot.key} "
                      f"v{source_champion}, the champion of a {bundle.index.source_backend} brain)")
            arguments = {"slot": slot, "version": result.champion_here, "reason": reason, "force": args.force}
            try:
                finished = carry_out(brain, url, config, "promote", arguments)
            except BrainError as error:
                done = f"import done ({_summary(result)}), but the promotion failed"
                raise BrainError(f"{done}: {error}") from None
            promoted = int(finished.result["promotion"])
            champion_now = brain.champion(slot)
    document = {
        "bundle": str(args.path), "bundle_id": result.bundle_id, "slot": result.slot,
        "versions": [{"source": item.source_number, "number": item.number, "created": item.created}
                     for item in result.mapping],
        "source_champion": result.source_champion, "source_champion_here": result.champion_here,
        "champion": None if champion_now is None else champion_now.number, "promotion": promoted,
    }

    def render(doc) -> str:
        lines = [f"{doc['slot']}: {_summary(result)} from bundle {doc['bundle_id']}"]
        for v in doc["versions"]:
            lines.append(f"  v{v['source']} -> v{v['number']}" + ("" if v["created"] else " (already here)"))
        champion = "none" if doc["champion"] is None else f"v{doc['champion']}"
        lines.append(f"  champion here: {champion}" + (" (promoted)" if doc["promotion"] else ""))
        return "\n".join(lines)

    emit(document, args.json, render)


def _summary(result) -> str:
    created = sum(item.created for item in result.mapping)
    skipped = len(result.mapping) - created
    return f"{created} version(s) stored" + (f", {skipped} already here" if skipped else "")


EXPORT_TARGETS: dict[str, Target] = {
    "bundle": Target("a slot's versions as a folder of files with a sha256 index",
                     _export_bundle_arguments, run_export_bundle),
    "mlflow": Target("mirror versions to an MLflow tracking server (runs, registered models, champion alias)",
                     add_mlflow_arguments, run_mlflow_export),
}
IMPORT_TARGETS: dict[str, Target] = {
    "bundle": Target("versions from a folder written by `huracan export bundle`, verified first",
                     _import_bundle_arguments, run_import_bundle),
}
