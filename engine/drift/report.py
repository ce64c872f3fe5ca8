"""evidently's own Report for the same windows: its HTML for a deep dive in a browser, and its
per-column values (used by the parity tests and the benchmark). evidently is imported here only,
inside the functions: it takes seconds to import."""

from __future__ import annotations

from pathlib import Path

from engine.drift.check import DEFAULT_DRIFT_SHARE, column_arrays
from engine.drift.stattests import DEFAULT_THRESHOLDS

EVIDENTLY_METHODS = ("ks", "psi", "wasserstein", "jensenshannon")


def _pandas(frame, columns: list[str]):
    import pandas as pd

    return pd.DataFrame(column_arrays(frame, columns))


def evidently_snapshot(
    reference,
    current,
    *,
    method: str = "psi",
    columns: list[str] | None = None,
    threshold: float | None = None,
    drift_share: float = DEFAULT_DRIFT_SHARE,
):
    """Run evidently's ``Report([DataDriftPreset(method=...)])`` on the windows (every column
    declared numerical, as Huracan treats them) and return its snapshot."""
    if method not in EVIDENTLY_METHODS:
        raise ValueError(
            f"evidently report method must be one of {', '.join(EVIDENTLY_METHODS)}, got {method!r}"
        )
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    names = list(column_arrays(reference, columns))
    definition = DataDefinition(numerical_columns=names)
    preset = DataDriftPreset(
        method=method,
        threshold=threshold if threshold is not None else DEFAULT_THRESHOLDS[method],
        drift_share=drift_share,
    )
    return Report([preset]).run(
        current_data=Dataset.from_pandas(_pandas(current, names), data_definition=definition),
        reference_data=Dataset.from_pandas(_pandas(reference, names), data_definition=definition),
    )


def evidently_values(snapshot) -> tuple[dict[str, float], dict]:
    """({column: value}, {"count", "share"}) from a snapshot: value is the p-value for KS,
    the statistic otherwise (evidently's ValueDrift)."""
    values, drifted = {}, {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            values[config["column"]] = float(metric["value"])
        elif config["type"].endswith("DriftedColumnsCount"):
            drifted = dict(metric["value"])
    return values, drifted


def write_evidently_html(reference, current, path: str | Path, **options) -> Path:
    """evidently's HTML drift report for the windows, written to ``path``."""
    path = Path(path)
    snapshot = evidently_snapshot(reference, current, **options)
    snapshot.save_html(str(path))
    return path
