"""Every toast this console showed, for the Notifications view: a toast is gone in seconds, the
log keeps the last few hundred. In memory only: what matters for good (jobs, promotions,
rollbacks, refusals) is in the brain already, in its own logs."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

NOTIFICATION_LOG_SIZE = 500


@dataclass(frozen=True)
class LoggedToast:
    id: int  # 1, 2, 3... in the order they were raised: the view's row key and order
    ts: datetime  # UTC, by the console's clock
    severity: str  # information, warning, error (Textual's toast severities)
    title: str
    message: str


class NotificationLog:
    """The newest `size` toasts. Written on the UI thread only (HuracanApp.notify sees to it), so
    a view reading it never meets it half-written."""

    def __init__(self, size: int = NOTIFICATION_LOG_SIZE) -> None:
        self._toasts: deque[LoggedToast] = deque(maxlen=size)
        self._raised = 0

    def add(self, ts: datetime, severity: str, title: str, message: str) -> LoggedToast:
        self._raised += 1
        toast = LoggedToast(self._raised, ts, severity, title, message)
        self._toasts.append(toast)
        return toast

    def __iter__(self) -> Iterator[LoggedToast]:
        return iter(self._toasts)

    def __len__(self) -> int:
        return len(self._toasts)
