"""Run core calls off the UI thread and hand their results back on it.

`run_in_background(fn, on_success, on_failure, on_progress)` is the only way the window
does work: `fn` runs on a pool thread and may report progress through the callable it
is given; the callbacks always run on the UI thread, so they may touch widgets, and `fn`
never does. A failure without its own handler goes to `default_failure_handler`.
"""

import logging
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Qt, Signal, Slot

log = logging.getLogger(__name__)


class _Signals(QObject):
    progress = Signal(object)
    succeeded = Signal(object)
    failed = Signal(object)


class _Relay(QObject):
    """Lives on the UI thread; the pool thread's signals reach it queued."""

    def __init__(self, signals: _Signals, on_success, on_failure, on_progress):
        super().__init__()
        self.signals = signals  # kept alive as long as the relay
        self._on_success, self._on_failure, self._on_progress = on_success, on_failure, on_progress
        signals.progress.connect(self.progress, Qt.ConnectionType.QueuedConnection)
        signals.succeeded.connect(self.succeeded, Qt.ConnectionType.QueuedConnection)
        signals.failed.connect(self.failed, Qt.ConnectionType.QueuedConnection)

    @Slot(object)
    def progress(self, value):
        if self._on_progress:
            self._on_progress(value)

    @Slot(object)
    def succeeded(self, value):
        _pending.discard(self)
        if self._on_success:
            self._on_success(value)

    @Slot(object)
    def failed(self, error):
        _pending.discard(self)
        (self._on_failure or default_failure_handler)(error)


class _Job(QRunnable):
    def __init__(self, fn, signals: _Signals):
        super().__init__()
        self.fn, self.signals = fn, signals

    def run(self):
        try:
            result = self.fn(self.signals.progress.emit)
        except Exception as e:  # handed to the UI thread, which shows it
            log.debug("background call failed:\n%s", traceback.format_exc())
            self.signals.failed.emit(e)
        else:
            self.signals.succeeded.emit(result)


def _log_failure(error: BaseException) -> None:
    log.error("background call failed: %s", error)


default_failure_handler: Callable[[BaseException], None] = _log_failure
"""Replaced by the main window with one that shows the error to the user."""

_pending: set[_Relay] = set()


def run_in_background(
    fn: Callable[[Callable[[Any], None]], Any],
    on_success: Callable[[Any], None] | None = None,
    on_failure: Callable[[BaseException], None] | None = None,
    on_progress: Callable[[Any], None] | None = None,
    pool: QThreadPool | None = None,
) -> None:
    """Call `fn(progress)` on a pool thread; the callbacks run on the calling (UI) thread."""
    signals = _Signals()
    _pending.add(_Relay(signals, on_success, on_failure, on_progress))
    (pool or QThreadPool.globalInstance()).start(_Job(fn, signals))
