"""Retries of transient I/O: one backoff policy for every service adapter.

Luigi's scheduler retries only help while a worker stays alive; a one-shot cron run must retry inside the task.
"""
from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger("winepipe.retry")

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(max_delay, base_delay * 2**n))."""

    retries: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))

    def call(self, action: Callable[[], T], what: str, is_transient: Callable[[BaseException], bool],
             before_retry: Callable[[], None] | None = None) -> T:
        """``action()``, retried on transient errors; permanent errors and the last transient one propagate."""
        attempt = 0
        while True:
            try:
                return action()
            except Exception as exc:
                attempt += 1
                if not is_transient(exc) or attempt > self.retries:
                    if attempt > 1 and is_transient(exc):
                        log.error("%s: giving up after %d attempts: %s", what, attempt, describe(exc))
                    raise
                pause = self.delay(attempt)
                # Every retry is logged: an operator must see a flaky link before it becomes an outage.
                log.warning("%s: transient error (%s); retry %d of %d in %.2fs",
                            what, describe(exc), attempt, self.retries, pause)
                time.sleep(pause)
                if before_retry is not None:
                    before_retry()


def describe(exc: BaseException) -> str:
    """An exception as one log-friendly phrase."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
