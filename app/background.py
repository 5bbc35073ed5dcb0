"""Run core calls off the UI thread and hand their results back on it.

`run_in_background(fn, on_success, on_failure, on_progress)` is the only way the window
does work: `fn(progress)` runs on a worker thread and may report progress through the
callable it is given; the callbacks always run on the UI thread, so they may touch
widgets, and `fn` never does. Each caller says what a failure means to it (the window
shows it to the user); one without a handler is logged. `run_on_main(fn)` hands a call
from any thread (APScheduler's, say) to the UI thread.

Results cross threads through one long-lived QObject on the UI thread: creating a
QObject per call and letting Python free it inside its own slot crashes Qt.
"""

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from functools import partial
from typing import Any

from app.qt import QCoreApplication, QObject, Qt, Signal, Slot

log = logging.getLogger(__name__)


class _UiThreadCaller(QObject):
    """Calls what it is sent on the thread it lives on (the UI thread)."""

    call = Signal(object)

    def __init__(self):
        super().__init__()
        self.call.connect(self._run, Qt.ConnectionType.QueuedConnection)

    @Slot(object)
    def _run(self, callback: Callable[[], None]) -> None:
        callback()


def _log_failure(error: BaseException) -> None:
    log.error("background call failed: %s", error)

_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="grokling-bg")
_caller: _UiThreadCaller | None = None
_running: set[Future] = set()


def _ui_caller() -> _UiThreadCaller:
    global _caller
    if _caller is None:
        app = QCoreApplication.instance()
        if app is None:
            raise RuntimeError("run_in_background needs a QApplication")
        _caller = _UiThreadCaller()
        _caller.moveToThread(app.thread())
    return _caller


def run_on_main(fn: Callable[[], None]) -> None:
    """Call `fn` on the UI thread, soon; from any thread."""
    _ui_caller().call.emit(fn)


def run_in_background(
    fn: Callable[[Callable[[Any], None]], Any],
    on_success: Callable[[Any], None] | None = None,
    on_failure: Callable[[BaseException], None] | None = None,
    on_progress: Callable[[Any], None] | None = None,
) -> Future:
    """Call `fn(progress)` on a worker thread; the callbacks run on the UI thread."""
    caller = _ui_caller()

    def progress(value: Any) -> None:
        if on_progress is not None:
            caller.call.emit(partial(on_progress, value))

    def job() -> None:
        try:
            result = fn(progress)
        except Exception as e:  # handed to the UI thread, which shows it
            log.debug("background call failed", exc_info=True)
            caller.call.emit(partial(on_failure or _log_failure, e))
        else:
            if on_success is not None:
                caller.call.emit(partial(on_success, result))

    future = _executor.submit(job)
    _running.add(future)
    future.add_done_callback(_running.discard)
    return future


def wait_for_background(timeout: float) -> bool:
    """Block until every background call has returned (the callbacks may still be queued)."""
    _, not_done = wait(list(_running), timeout=timeout)
    return not not_done
