"""Where a neural fit saves its state after each epoch, and finds one to resume from.

The engine never sees the brain: whoever runs the training passes a CheckpointStore (the worker's
writes the brain's training_checkpoints, scheduler/services/training.py), engine/training.py binds
it to each fit of the run as StageCheckpoints (one stage: a fold, or the final refit), and the
fit saves the bytes of a torch file (loop.py: tensors and plain containers only, read back with
weights_only=True). A stage whose newest checkpoint was made from other inputs (other bars, other
parameters) is not resumed: the fit starts over and overwrites it.

Importing this module costs nothing (no torch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

FORMAT = "huracan-neural-checkpoint/1"


class CheckpointStore(Protocol):
    """The newest checkpoint of each stage of one training run."""

    def load(self, stage: str) -> bytes | None:
        """The stage's newest checkpoint, or None when it has none (or none this run may use)."""
        ...

    def save(self, stage: str, epoch: int, data: bytes) -> None:
        """Replace the stage's checkpoint with `data`, the state after epoch `epoch`."""
        ...


@dataclass(frozen=True)
class StageCheckpoints:
    """A store bound to one fit: what NeuralModel.fit(checkpoints=) takes."""

    store: CheckpointStore
    stage: str

    def load(self) -> bytes | None:
        return self.store.load(self.stage)

    def save(self, epoch: int, data: bytes) -> None:
        self.store.save(self.stage, epoch, data)


@dataclass(frozen=True)
class Resumed:
    """Where a fit took up from: the stage's checkpoint after `epoch`; `finished` when that fit
    had already ended (its weights are taken as they were, no epoch runs again)."""

    stage: str
    epoch: int
    finished: bool

    def describe(self) -> str:
        if self.finished:
            return f"resumed {self.stage}: finished at epoch {self.epoch}, not refitted"
        return f"resumed from epoch {self.epoch} of {self.stage}"
