"""Progress lines for long jobs: what a job did, how far it is and its rate, at least every
``interval`` seconds (issue 19: a sweep you can watch; ``largelr status`` reads training's own
per-evaluation lines, the analyses log these).

A line reads ``landscape: 37/121 points (31 %), 2.10 points/s, ~40 s left``; the last one
(:meth:`Progress.finish`) ``landscape: 121/121 points in 57.6 s (2.10 points/s)``. The clock is
injectable so tests step it by hand.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

# seconds between two progress lines (the issue asks for one at least once a minute; a line is
# written at the first step after the interval, so a step shorter than 30 s keeps that promise)
PROGRESS_INTERVAL_S = 30.0


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 5 s``, ``2 h 10 min``."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


class Progress:
    """Counts steps of one job and logs a progress line when ``interval`` seconds have passed
    since the last one (or since the start)."""

    def __init__(self, log: logging.Logger, what: str, total: int | None = None, unit: str = "steps",
                 interval: float = PROGRESS_INTERVAL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.log, self.what, self.total, self.unit = log, what, total, unit
        self.interval, self.clock = interval, clock
        self.started = self.last_line = clock()
        self.count = 0

    def rate(self) -> float:
        """Steps per second since the start (0 before the clock moved)."""
        elapsed = self.clock() - self.started
        return self.count / elapsed if elapsed > 0 else 0.0

    def step(self, n: int = 1, note: str = "") -> None:
        """``n`` more steps done; log a line if the interval has passed."""
        self.count += n
        now = self.clock()
        if now - self.last_line >= self.interval:
            self.last_line = now
            self.log.info("%s", self.line(note))

    def line(self, note: str = "") -> str:
        """The progress line now (what, how far, rate, time left at that rate)."""
        rate = self.rate()
        parts = [f"{self.what}: {self.count}"]
        if self.total:
            parts[0] += f"/{self.total} {self.unit} ({100 * self.count / self.total:.0f} %)"
        else:
            parts[0] += f" {self.unit}"
        parts.append(f"{rate:.3g} {self.unit}/s")
        if self.total and rate > 0 and self.count < self.total:
            parts.append(f"~{format_duration((self.total - self.count) / rate)} left")
        return ", ".join(parts + ([note] if note else []))

    def finish(self, note: str = "") -> None:
        """The closing line: steps, time taken and rate."""
        elapsed = self.clock() - self.started
        done = f"{self.count}/{self.total}" if self.total else str(self.count)
        self.log.info("%s: %s %s in %s (%.3g %s/s)%s", self.what, done, self.unit, format_duration(elapsed),
                      self.rate(), self.unit, f", {note}" if note else "")


@contextmanager
def forward_progress(module: Any, progress: Progress) -> Iterator[Progress]:
    """One :meth:`Progress.step` per forward call of ``module`` (a torch module) inside the block,
    e.g. captum's Integrated-Gradients batches; a hook only observes, so no number changes.
    The closing line is logged when the block ends."""
    handle = module.register_forward_hook(lambda *_: progress.step())
    try:
        yield progress
    finally:
        handle.remove()
    progress.finish()
