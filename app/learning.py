"""The background learner in the app: APScheduler asks the policy, the cycle runs as a subprocess.

`LearningController` owns a BackgroundScheduler whose one job, every minute, gathers the
facts (`learner.learning.schedule.Facts`) off the UI thread and hands the decision back as a
signal. Learn now, pause and cancel come from the tray and the window menus. The cycle
itself is `learner.learning.job.LearningJob` on a background thread: its JSON-lines
progress arrives on the UI thread as `progress` signals, its end as `finished`. Nothing
here trains or touches the model: the window only ever sees signals.
"""

import time
from datetime import datetime


from app.qt import QObject, Signal
from app.background import run_in_background, run_on_main
from learner import models
from learner.learning import schedule
from learner.learning.cycle import BAD_SETTINGS
from learner.learning.job import LearningJob
from learner.settings import Settings, SettingsError
from learner.store import Store

TICK_S = 60


class LearningController(QObject):
    status_changed = Signal(str)
    """A one-line status: paused; when the next cycle runs; the stage, percent and ETA of one running."""
    progress = Signal(dict)
    """A cycle's progress event: {"stage", "percent", "message", "eta_s"}."""
    finished = Signal(object)
    """A cycle's learner.learning.cycle.CycleResult."""
    paused_changed = Signal(bool)

    def __init__(self, settings: Settings, start_scheduler: bool = True):
        super().__init__()
        self.settings = settings
        self.store = Store()  # its own connection: the scheduler's thread reads while the window writes
        self.job: LearningJob | None = None
        self.status = ""
        self._last_input = time.monotonic()
        self._stage_started: dict[str, float] = {}
        self._unusable_settings: str | None = None
        """schedule.settings_file_hash() when a cycle failed on settings.json; None after any other end."""
        self._scheduler = None
        if start_scheduler:
            from apscheduler.schedulers.background import BackgroundScheduler

            self._scheduler = BackgroundScheduler(daemon=True)
            self._scheduler.add_job(self._tick, "interval", seconds=TICK_S, max_instances=1, coalesce=True,
                                    next_run_time=datetime.now())
            self._scheduler.start()

    # -- state -------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self.settings.learning_paused

    @property
    def running(self) -> bool:
        return self.job is not None

    def user_active(self) -> None:
        """The window saw the user type or click: learning waits for idleness."""
        self._last_input = time.monotonic()

    def set_paused(self, paused: bool) -> None:
        if paused == self.settings.learning_paused:
            return
        self.settings.learning_paused = paused
        try:
            Settings.change(learning_paused=paused)
        except SettingsError:
            pass  # a settings.json that is not JSON is the user's to fix: the pause holds for this session
        self.paused_changed.emit(paused)
        self.refresh()

    def apply_settings(self, settings: Settings) -> None:
        """Use settings the user saved (the Preferences dialog wrote them): the schedule, the pause."""
        was_paused, self.settings = self.paused, settings
        if settings.learning_paused != was_paused:
            self.paused_changed.emit(settings.learning_paused)
        self.refresh()

    def _set_status(self, status: str) -> None:
        if status != self.status:
            self.status = status
            self.status_changed.emit(status)

    # -- scheduling --------------------------------------------------------------------

    def facts(self) -> schedule.Facts:
        return schedule.Facts(now=datetime.now(), paused=self.paused, running=self.running,
                              last_cycle_ended=schedule.last_cycle_ended(),
                              new_corrections=schedule.new_corrections(self.store),
                              idle_s=time.monotonic() - self._last_input, on_ac_power=schedule.on_ac_power(),
                              settings_unusable=self._unusable_settings == schedule.settings_file_hash(),
                              awaiting_approval=bool(models.active().lineage.pending_names()))

    def _tick(self) -> None:
        """On the scheduler's thread: decide, then act on the UI thread."""
        decision = schedule.decide(self.settings, self.facts())
        run_on_main(lambda: self._act(decision))

    def refresh(self) -> None:
        """Recompute the status line now (after a pause, a correction, a cycle's end)."""
        if self.running:
            return
        run_in_background(lambda _: schedule.decide(self.settings, self.facts()), self._show_decision,
                          lambda error: self._set_status(f"Learning: {error}"))

    def _show_decision(self, decision: schedule.Decision) -> None:
        if not self.running:
            self._set_status(decision.status)

    def _act(self, decision: schedule.Decision) -> None:
        self._show_decision(decision)
        if decision.start and not self.running:
            self.learn_now()

    # -- one cycle ---------------------------------------------------------------------

    def learn_now(self) -> bool:
        """Start a cycle unless one is running. Returns whether one started."""
        if self.running:
            return False
        self.job = LearningJob()
        self._stage_started = {}
        self._set_status("Learning: starting")
        run_in_background(lambda progress: self.job.run(progress), self._ended, self._failed, self._on_event)
        return True

    def cancel(self) -> None:
        if self.job is not None:
            job = self.job
            run_in_background(lambda _: job.cancel())

    def _on_event(self, event: dict) -> None:
        if event.get("event") != "progress":
            return
        stage, percent = event["stage"], float(event["percent"])
        started = self._stage_started.setdefault(stage, time.monotonic())
        elapsed = time.monotonic() - started
        eta = elapsed * (100 - percent) / percent if 0 < percent < 100 and elapsed > 1 else None
        shown = {"stage": stage, "percent": percent, "message": event.get("message", ""), "eta_s": eta}
        self.progress.emit(shown)
        self._set_status(f"Learning: {stage} {percent:.0f}%" + (f", about {eta:.0f} s left in this stage" if eta else ""))

    def _ended(self, result) -> None:
        self.job = None
        self._unusable_settings = schedule.settings_file_hash() if result.code == BAD_SETTINGS else None
        self.finished.emit(result)
        self.refresh()

    def _failed(self, error: BaseException) -> None:
        from learner.learning.cycle import FAILED, CycleResult

        self._ended(CycleResult(FAILED, f"the learning cycle could not start: {error}"))

    def shutdown(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        if self.job is not None:
            self.job.cancel(grace=5)
        self.store.close()
