"""The learning actions, built once and shown in both the window's Learning menu and the tray menu,
so the two can never disagree: the status line, Learn now, Pause learning, Cancel, the panel."""

from app.qt import QAction, QObject


class LearningActions(QObject):
    def __init__(self, learning, open_panel, parent=None):
        """`learning` is an app.learning.LearningController; `open_panel` opens the learning panel."""
        super().__init__(parent)
        self.learning = learning
        self.status = QAction(learning.status or "Learning", self, enabled=False)
        self.learn_now = QAction("Learn &now", self)
        self.learn_now.triggered.connect(learning.learn_now)
        self.pause = QAction("&Pause learning", self, checkable=True, checked=learning.paused)
        self.pause.toggled.connect(learning.set_paused)
        self.cancel = QAction("&Cancel learning", self, enabled=False)
        self.cancel.triggered.connect(learning.cancel)
        self.panel = QAction("Learning &panel…", self)
        self.panel.triggered.connect(open_panel)
        learning.status_changed.connect(self._show_status)
        learning.paused_changed.connect(self.pause.setChecked)

    def all(self) -> list[QAction]:
        return [self.status, self.learn_now, self.pause, self.cancel, self.panel]

    def _show_status(self, status: str) -> None:
        self.status.setText(status)
        running = self.learning.running
        self.learn_now.setEnabled(not running)
        self.cancel.setEnabled(running)
