"""Cadences: how a retrain fits. A small module of its own: the config and the console name
cadences without importing the training code."""

from __future__ import annotations

from enum import StrEnum


class Cadence(StrEnum):
    """From scratch over every fold, quickly (at most a few folds), or continuing the previous
    version on newer rows only (engine.training says how each works)."""

    FULL = "full"
    QUICK = "quick"
    INCREMENTAL = "incremental"
