"""The model host: the one owner of the window's llama.cpp engine.

It loads a GGUF off the UI thread (falling back to the embedded model when the chosen one
cannot load), loads it again when saved settings change the model, context or threads,
watches the live-version pointer and swaps a new version in between replies (the engine's
lock lets a reply in progress finish on the old model), and closes the engine on shutdown. Widgets never touch the engine's lifecycle: they read `engine`
for a turn and listen to the signals.

Threading: every method runs on the UI thread; loading and swapping run in the background.
"""

from app.background import run_in_background
from app.qt import QObject, QTimer, Signal
from learner import versions
from learner.chat.engine import Engine
from learner.chat.served import EMBEDDED_VERSION, ModelChoice, embedded_model, live_model

LIVE_VERSION_POLL_MS = 2000
"""How often the host looks for a new live version (one small file read)."""

RELOAD_ON = ("model_path", "n_ctx", "n_threads")
"""The settings an engine is loaded with: changing one loads it again."""


class ModelHost(QObject):
    loading = Signal(str)
    """The file being loaded."""
    ready = Signal(object)
    """The engine serving now (a learner.chat.engine.Engine), after a load or a swap."""
    swapped = Signal(str)
    """The version name, once a new live version serves the next reply."""
    failed = Signal(str)
    """Why a load or a swap failed; what is served stays as it was (or the embedded model)."""

    def __init__(self, settings, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.engine: Engine | None = None
        self._loads = 0
        """Counts load() calls: only the latest one's engine is served."""
        self._live_pointer = versions.live_pointer()
        self._timer = QTimer(self, interval=LIVE_VERSION_POLL_MS)
        self._timer.timeout.connect(self.check_live_version)
        self._timer.start()

    def load(self, model: ModelChoice) -> None:
        """Serve `model`; if it cannot load, say why and serve the embedded model instead."""
        self.loading.emit(model.path.name)
        self._loads += 1
        ticket = self._loads

        def loaded(engine: Engine) -> None:
            if ticket != self._loads:  # settings changed while it loaded: a later load serves
                run_in_background(lambda _: engine.close())
                return
            old, self.engine = self.engine, engine
            if old is not None:  # off the UI thread: closing waits for a reply in progress on it
                run_in_background(lambda _: old.close())
            self.ready.emit(engine)

        def failed(error: BaseException) -> None:
            if ticket != self._loads:
                return
            if model.version == EMBEDDED_VERSION:
                self.failed.emit(str(error))
                return
            self.failed.emit(f"{error}\n\nUsing the embedded model instead.")
            self.load(embedded_model())

        run_in_background(lambda _: Engine.from_settings(self.settings, model), loaded, failed)

    def apply_settings(self, settings) -> None:
        """Serve with saved settings: the next load or swap reads them, and a change of model, context or
        threads loads the engine again now."""
        before, self.settings = self.settings, settings
        if any(getattr(before, name) != getattr(settings, name) for name in RELOAD_ON):
            self.load(live_model(settings))

    def check_live_version(self) -> None:
        """Swap in a version that went live (a learning cycle, a rollback) without a restart."""
        pointer = versions.live_pointer()
        if pointer == self._live_pointer or self.engine is None or self.settings.model_path:
            return
        self._live_pointer = pointer
        model = live_model(self.settings)
        if model.path == self.engine.model.path:
            return
        engine = self.engine

        def swapped(_) -> None:
            self.ready.emit(engine)
            self.swapped.emit(engine.model.version)

        # swap() loads off the UI thread and waits for the reply in progress to finish.
        run_in_background(lambda _: engine.swap(model), swapped, lambda e: self.failed.emit(str(e)))

    def close(self) -> None:
        self._timer.stop()
        if self.engine is not None:
            self.engine.close()
            self.engine = None
