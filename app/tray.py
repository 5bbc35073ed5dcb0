"""The tray icon, where the desktop has a tray. The app works fully without one: the same
learning actions are in the window's Learning menu."""

from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon


def learning_menu(window, parent) -> QMenu:
    """Status line, Start/Pause learning, Learn now, Show window, Quit."""
    menu = QMenu(parent)
    learning = window.learning
    status = QAction(learning.status or "Learning", menu, enabled=False)
    learning.status_changed.connect(status.setText)
    pause = QAction("Pause learning" if not learning.paused else "Start learning", menu)
    pause.triggered.connect(lambda: learning.set_paused(not learning.paused))
    learning.paused_changed.connect(lambda paused: pause.setText("Start learning" if paused else "Pause learning"))
    learn_now = QAction("Learn now", menu)
    learn_now.triggered.connect(learning.learn_now)
    show = QAction("Show window", menu)
    show.triggered.connect(lambda: (window.show(), window.raise_(), window.activateWindow()))
    quit_action = QAction("Quit", menu)
    quit_action.triggered.connect(window.quit)
    menu.addActions([status, pause, learn_now])
    menu.addSeparator()
    menu.addActions([show, quit_action])
    return menu


def make_tray(window, icon: QIcon) -> QSystemTrayIcon | None:
    """A tray icon with the learning menu; None where there is no system tray (e.g. offscreen)."""
    if not QSystemTrayIcon.isSystemTrayAvailable():
        return None
    tray = QSystemTrayIcon(icon, window)
    tray.setToolTip("grokling")
    tray.setContextMenu(learning_menu(window, window))
    tray.activated.connect(
        lambda reason: (window.hide() if window.isVisible() else (window.show(), window.raise_()))
        if reason == QSystemTrayIcon.ActivationReason.Trigger else None
    )
    tray.show()
    return tray
