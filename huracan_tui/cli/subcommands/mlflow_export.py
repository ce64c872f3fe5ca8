"""`huracan export mlflow [--tracking-uri URI] [--slot SLOT ...]`: mirror the brain's versions to
an MLflow tracking server (scheduler.services.mlflow_export says what each version becomes).

A target of `huracan export` (huracan_tui/cli/subcommands/bundle.py lists it). Exporting again
sends only what is new: versions not yet there, and the `champion` alias when the champion
changed. The URI defaults to the config's `mlflow.tracking_uri`; credentials come from the
environment (MLFLOW_TRACKING_TOKEN, MLFLOW_TRACKING_USERNAME / _PASSWORD), never the command line.
"""

from __future__ import annotations

import argparse

from huracan_tui.cli.output import CommandError, emit
from huracan_tui.settings import resolve_brain_url


def add_mlflow_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tracking-uri", metavar="URI",
                        help="the MLflow tracking server, e.g. http://127.0.0.1:5000 (default: the config's "
                             "mlflow.tracking_uri); credentials go in the environment, not here")
    parser.add_argument("--slot", action="append", metavar="SLOT",
                        help="a slot id, e.g. GOOG:1d:fwd_ret_1 (repeatable; default: every slot)")


def run_mlflow_export(args, config) -> None:
    from brain import open_brain
    from huracan_tui import __version__
    from scheduler.services.mlflow_export import MlflowExportError, checked_tracking_uri, export_to_mlflow

    settings = getattr(config, "mlflow", None)
    uri = args.tracking_uri or (settings.tracking_uri if settings else None)
    if not uri:
        raise CommandError("--tracking-uri: name the MLflow tracking server (or set mlflow.tracking_uri "
                           "in the config)")
    timeout, retries = (settings.timeout, settings.retries) if settings else (10.0, 1)
    try:
        uri = checked_tracking_uri(uri)
        with open_brain(resolve_brain_url(args.brain, config)) as brain:
            report = export_to_mlflow(brain, uri, slots=args.slot or (settings.slots if settings else None),
                                      huracan_version=__version__, timeout=timeout, retries=retries)
    except MlflowExportError as error:
        raise CommandError(str(error)) from None
    document = {
        "tracking_uri": report.tracking_uri, "runs_created": report.runs_created,
        "slots": [{"slot": item.slot, "experiment_id": item.experiment_id,
                   "registered_model": item.registered_model, "runs_created": item.runs_created,
                   "runs_adopted": item.runs_adopted, "runs_present": item.runs_present,
                   "champion": item.champion, "alias_moved": item.alias_moved} for item in report.slots],
    }

    def render(doc) -> str:
        lines = [f"{doc['tracking_uri']}: {doc['runs_created']} run(s) exported"]
        for item in doc["slots"]:
            champion = "no champion" if item["champion"] is None else f"champion v{item['champion']}"
            moved = " (alias moved)" if item["alias_moved"] else ""
            adopted = f", {item['runs_adopted']} recovered" if item["runs_adopted"] else ""
            lines.append(f"  {item['slot']} -> {item['registered_model']}: {item['runs_created']} new"
                         f"{adopted}, {item['runs_present']} already there; {champion}{moved}")
        return "\n".join(lines)

    emit(document, args.json, render)
