"""The tray icon, where the desktop has a tray. The app works fully without one."""

from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon


def make_tray(window, icon: QIcon) -> QSystemTrayIcon | None:
    """A tray icon with Show/Hide and Quit; None where there is no system tray (e.g. offscreen)."""
    if not QSystemTrayIcon.isSystemTrayAvailable():
        return None
    tray = QSystemTrayIcon(icon, window)
    tray.setToolTip("grokling")
    menu = QMenu(window)
    toggle = QAction("Show/Hide window", menu)
    toggle.triggered.connect(lambda: window.hide() if window.isVisible() else (window.show(), window.raise_()))
    quit_action = QAction("Quit", menu)
    quit_action.triggered.connect(window.quit)
    menu.addActions([toggle, quit_action])
    tray.setContextMenu(menu)
    tray.activated.connect(
        lambda reason: toggle.trigger() if reason == QSystemTrayIcon.ActivationReason.Trigger else None
    )
    tray.show()
    return tray
