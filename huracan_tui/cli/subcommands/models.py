"""`huracan models [KIND]`: the model zoo with each kind's info card; --json prints it all."""

from __future__ import annotations

from huracan_tui.cli.output import CommandError, emit

CARD_FIELDS = ("purpose", "ideal_input", "feature_requirements", "output_schema")


def register(command) -> None:
    models = command("models", run, "list the model zoo with each kind's info card")
    models.add_argument("kind", nargs="?", help="show one kind's full card, e.g. xgboost")


def run(args, config) -> None:
    from engine.models import zoo

    entries = zoo()
    if args.kind is not None:
        entries = [entry for entry in entries if entry["kind"] == args.kind]
        if not entries:
            known = ", ".join(entry["kind"] for entry in zoo())
            raise CommandError(f"no model kind {args.kind!r} in the zoo (known: {known})")
    document = {"models": entries}
    emit(document, args.json, render_card if args.kind is not None else render_table)


def _availability(entry: dict) -> str:
    return "yes" if entry["available"] else f"no ({entry['reason']})"


def render_table(document: dict) -> str:
    rows = [f"{'kind':<28} {'task':<14} {'family':<9} {'library':<13} {'available':<28} purpose"]
    for entry in document["models"]:
        rows.append(
            f"{entry['kind']:<28} {entry['task'] or '-':<14} {entry['family'] or '-':<9} "
            f"{entry['library'] or '-':<13} {_availability(entry):<28} {entry.get('purpose') or ''}"
        )
    rows.append("")
    rows.append("`huracan models KIND` shows a kind's full card; --json prints every card.")
    return "\n".join(rows)


def render_card(document: dict) -> str:
    (entry,) = document["models"]
    lines = [f"{entry['kind']}  ({entry['task']}, {entry['family']}, {entry['library']})"]
    lines.append(f"  {'available':<21} {_availability(entry)}")
    for field in CARD_FIELDS:
        lines.append(f"  {field.replace('_', ' '):<21} {entry.get(field) or '-'}")
    lines.append(f"  {'regimes':<21} {', '.join(entry.get('regimes') or []) or '-'}")
    lines.append(f"  {'artifact format':<21} {entry.get('artifact_format') or '-'}")
    params = ", ".join(f"{name}={value}" for name, value in entry["default_params"].items())
    lines.append(f"  {'default params':<21} {params or '-'}")
    return "\n".join(lines)
