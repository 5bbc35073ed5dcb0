"""The model host: the one owner of the window's llama.cpp engine.

It loads a GGUF off the UI thread (falling back to the embedded model when the chosen one
cannot load), loads it again when saved settings change the context, threads or GPU layers,
and watches what should be served: the active model (learner.models) and its live pointer.
A switch of model or a new live version (a cycle, a rollback, `grokling models use` from a
terminal) is swapped in between replies (the engine's lock lets a reply in progress finish
on the old model). A learning cycle that borrows the GPU (learner.gpu) gets it: the engine
moves to the CPU and comes back once the cycle returns it. The engine is closed on shutdown.
Widgets never touch the engine's lifecycle: they read `engine` for a turn and listen to the
signals.

Threading: every method runs on the UI thread; loading and swapping run in the background.
"""

from app.background import run_in_background
from app.qt import QObject, QTimer, Signal
from learner import gpu, models
from learner.chat.engine import Engine
from learner.chat.served import ModelChoice, embedded_model, live_model

SERVED_POLL_MS = 2000
"""How often the host looks at what should be served and who has the GPU (three small file reads)."""

RELOAD_ON = ("n_ctx", "n_threads", "n_gpu_layers")
"""The settings an engine is loaded with: changing one loads it again."""


class ModelHost(QObject):
    loading = Signal(str)
    """The file being loaded."""
    ready = Signal(object)
    """The engine serving now (a learner.chat.engine.Engine), after a load or a swap."""
    swapped = Signal(str)
    """The version name, once another model or a new live version serves the next reply."""
    failed = Signal(str)
    """Why a load or a swap failed; what is served stays as it was (or the embedded model)."""
    gpu_changed = Signal(bool)
    """Whether the engine now has layers on the GPU (it leaves it while a learning cycle trains)."""

    def __init__(self, settings, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.engine: Engine | None = None
        self._loads = 0
        """Counts load() calls: only the latest one's engine is served."""
        self._moving = False
        """A swap (another model, a version, to or from the GPU) is under way: the poll waits for it."""
        self._served = self._served_pointer()
        self._timer = QTimer(self, interval=SERVED_POLL_MS)
        self._timer.timeout.connect(self.poll)
        self._timer.start()

    @staticmethod
    def _served_pointer() -> tuple[dict, dict]:
        return models.active_pointer(), models.active().lineage.live_pointer()

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
            self._held(engine)
            self.ready.emit(engine)

        def failed(error: BaseException) -> None:
            if ticket != self._loads:
                return
            fallback = embedded_model()
            if model.path == fallback.path:
                self.failed.emit(str(error))
                return
            self.failed.emit(f"{error}\n\nUsing the embedded model instead.")
            self.load(fallback)

        run_in_background(lambda _: Engine.from_settings(self.settings, model), loaded, failed)

    def apply_settings(self, settings) -> None:
        """Serve with saved settings: the next load or swap reads them, and a change of context, threads or GPU
        layers loads the engine again now."""
        before, self.settings = self.settings, settings
        if any(getattr(before, name) != getattr(settings, name) for name in RELOAD_ON):
            self.load(live_model())

    def poll(self) -> None:
        """The timer's look: give the GPU to a cycle that borrows it (or take it back), else serve what is
        served now."""
        if self.engine is None or self._moving:
            return
        wanted = gpu.chat_layers(self.settings)
        if (wanted != 0) != self.engine.on_gpu:
            self._move(self.engine.model, wanted)
        else:
            self.check_served()

    def check_served(self) -> None:
        """Swap in another active model or a version that went live (a cycle, a rollback) without a restart."""
        pointer = self._served_pointer()
        if pointer == self._served or self.engine is None or self._moving:
            return
        self._served = pointer
        model = live_model()
        if (model.path, model.key) != (self.engine.model.path, self.engine.model.key):  # one GGUF can serve two models
            self._move(model, self.engine.n_gpu_layers)

    def _move(self, model: ModelChoice, n_gpu_layers: int) -> None:
        """Swap the engine to `model` with `n_gpu_layers` (loaded off the UI thread; a reply in progress
        finishes on the old one first)."""
        engine, self._moving = self.engine, True
        was_on_gpu, was = engine.on_gpu, engine.model

        def swapped(_) -> None:
            self._moving = False
            self._held(engine)
            self.ready.emit(engine)
            if engine.on_gpu != was_on_gpu:
                self.gpu_changed.emit(engine.on_gpu)
            if engine.model != was:
                self.swapped.emit(engine.model.version)

        def failed(error: BaseException) -> None:
            self._moving = False
            self.failed.emit(str(error))

        run_in_background(lambda _: engine.swap(model, n_gpu_layers), swapped, failed)

    @staticmethod
    def _held(engine: Engine) -> None:
        """Tell learning whether this window's engine holds GPU memory (learner.gpu)."""
        if engine.on_gpu:
            gpu.hold()
        else:
            gpu.release()

    def close(self) -> None:
        self._timer.stop()
        if self.engine is not None:
            self.engine.close()
            self.engine = None
            gpu.release()
