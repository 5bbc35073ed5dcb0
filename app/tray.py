"""The tray icon, where the desktop has a tray. The app works fully without one: the same
learning actions are in the window's Learning menu."""

from app.qt import QAction, QIcon, QMenu, QSystemTrayIcon


def learning_menu(window, parent) -> QMenu:
    """The window's learning actions (the same objects as its Learning menu), Show window, Quit."""
    menu = QMenu(parent)
    actions = window.learning_actions
    show = QAction("Show window", menu)
    show.triggered.connect(lambda: (window.show(), window.raise_(), window.activateWindow()))
    quit_action = QAction("Quit", menu)
    quit_action.triggered.connect(window.quit)
    menu.addActions([actions.status, actions.pause, actions.learn_now, actions.cancel, actions.panel])
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
