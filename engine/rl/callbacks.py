"""Training progress of an agent, through stable-baselines3's callback hook.

Every `every` environment steps the callback reports one record, the agents' counterpart of a
neural kind's epoch: {"epoch": the report's number, "max_epochs": how many there will be,
"timesteps", "loss": the learner's latest training loss (None before it first trained),
"episode_reward": the mean total reward of the episodes finished since the last report (else the
last finished one's; None before any finished)}, DQN adding "exploration_rate". The Jobs view's
loss chart plots "loss" against "epoch"; the records also go into the artifact's history.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine.models.base import FitProgress


def report_interval(total_timesteps: int, n_reports: int) -> int:
    return max(1, math.ceil(total_timesteps / max(1, n_reports)))


def progress_callback(progress: FitProgress | None, total_timesteps: int, n_reports: int, history: list):
    """A stable-baselines3 callback that appends each record to `history` and passes it to
    `progress(fraction, message, record)`."""
    from stable_baselines3.common.callbacks import BaseCallback

    every = report_interval(total_timesteps, n_reports)
    planned = math.ceil(total_timesteps / every)  # PPO's rounding up may add one more

    class ProgressCallback(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.running, self.finished, self.last_finished = 0.0, [], None
            self.loss: float | None = None

        def _on_step(self) -> bool:
            rewards, dones = self.locals.get("rewards"), self.locals.get("dones")
            if rewards is not None:
                self.running += float(np.sum(rewards))
            if dones is not None and bool(np.any(dones)):
                self.finished.append(self.running)
                self.last_finished, self.running = self.running, 0.0
            loss = self.model.logger.name_to_value.get("train/loss")
            if loss is not None:
                self.loss = float(loss)
            if self.num_timesteps % every == 0:
                self._report()
            return True

        def _on_training_end(self) -> None:
            self._report()  # the last steps (PPO rounds the steps up to whole rollouts)

        def _report(self) -> None:
            if history and history[-1]["timesteps"] == self.num_timesteps:
                return
            episode_reward = float(np.mean(self.finished)) if self.finished else self.last_finished
            self.finished = []
            record: dict[str, Any] = {
                "epoch": len(history) + 1,
                "max_epochs": max(planned, len(history) + 1),
                "timesteps": int(self.num_timesteps),
                "loss": self.loss,
                "episode_reward": episode_reward,
            }
            if hasattr(self.model, "exploration_rate"):
                record["exploration_rate"] = float(self.model.exploration_rate)
            history.append(record)
            if progress is not None:
                loss = "—" if self.loss is None else f"{self.loss:.4f}"
                reward = "—" if episode_reward is None else f"{episode_reward:.3f}"
                progress(
                    min(self.num_timesteps / total_timesteps, 1.0),
                    f"step {self.num_timesteps}/{total_timesteps} · loss {loss} · episode reward {reward}",
                    dict(record),
                )

    return ProgressCallback()
