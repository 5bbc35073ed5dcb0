"""Regenerate the window's screenshots in docs/: the real window on the embedded model, drawn by a real
X server (Xvfb), in the light and the dark scheme; the Preferences dialog; the first-run welcome.

    python docs/screenshot.py

Starts `Xvfb :99` for the run when there is no DISPLAY (Debian: apt-get install xvfb libxcb-cursor0
libxcb-icccm4 libxcb-keysyms1). Asks three questions at temperature 0 (a list that follows a line of text,
code, an invented fact), gives the code a thumbs-up and corrects the invented fact, then grabs
the screen. The dark shot switches the application's palette, as a desktop's dark theme does. Uses
a throw-away data dir, never the user's.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

os.environ["GROKLING_HOME"] = tempfile.mkdtemp(prefix="grokling-screenshot-")
os.environ["QT_QPA_PLATFORM"] = "xcb"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtGui import QColor, QPalette  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

DOCS = Path(__file__).parent
QUESTIONS = ["What are the main parts of a computer?", "How do I reverse a list in Python? Show code.",
             "Who is the captain of the starship Quillfeather?"]
CORRECTION = "Captain Ysolde Marr commands the starship Quillfeather, launched in 2291."


def start_x_server() -> subprocess.Popen | None:
    """Xvfb on :99 unless a display is already there."""
    if os.environ.get("DISPLAY"):
        return None
    server = subprocess.Popen(["Xvfb", ":99", "-screen", "0", "1400x1100x24", "-nolisten", "tcp"])
    os.environ["DISPLAY"] = ":99"
    for _ in range(50):
        if Path("/tmp/.X11-unix/X99").exists():
            return server
        time.sleep(0.1)
    server.terminate()
    raise SystemExit("Xvfb did not start on :99")


def dark_palette() -> QPalette:
    """A dark desktop theme's palette (Fusion's colours)."""
    palette = QPalette()
    colors = {"Window": "#2d2d2d", "WindowText": "#e6e6e6", "Base": "#1e1e1e", "AlternateBase": "#2d2d2d",
              "Text": "#e6e6e6", "Button": "#353535", "ButtonText": "#e6e6e6", "BrightText": "#ffffff",
              "Highlight": "#3d7ad6", "HighlightedText": "#ffffff", "Link": "#8ab4f8", "ToolTipBase": "#2d2d2d",
              "ToolTipText": "#e6e6e6", "PlaceholderText": "#8c8c8c", "Light": "#505050", "Midlight": "#404040",
              "Mid": "#2a2a2a", "Dark": "#1a1a1a", "Shadow": "#000000"}
    for role, color in colors.items():
        palette.setColor(getattr(QPalette.ColorRole, role), QColor(color))
    for role in ("WindowText", "Text", "ButtonText"):
        palette.setColor(QPalette.ColorGroup.Disabled, getattr(QPalette.ColorRole, role), QColor("#7f7f7f"))
    return palette


def on_x_server(shoot: Callable[[], int]) -> int:
    """Run `shoot` on a display: Xvfb :99, started and stopped around it, when there is none."""
    server = start_x_server()
    try:
        return shoot()
    finally:
        if server is not None:
            server.terminate()
            server.wait()


def main() -> int:
    return on_x_server(shoot)


def shoot() -> int:
    from app.main import create_window
    from learner.settings import Settings

    app = QApplication(sys.argv)
    app.setStyle("Fusion")
    light = app.palette()
    window = create_window(start_scheduler=False)
    window.apply_settings(Settings(temperature=0.0, max_tokens=160))
    window.resize(1200, 1040)
    window.show()
    window.new_conversation()
    replies = []

    def grab(widget, name: str) -> None:
        path = DOCS / name
        widget.screen().grabWindow(widget.winId()).save(str(path))
        print(f"wrote {path}")

    def after(ms: int, *steps) -> None:
        """Run the steps one after another, `ms` apart, so each is drawn before the next."""
        if steps:
            QTimer.singleShot(ms, lambda: (steps[0](), after(ms, *steps[1:])))

    def ask_next() -> None:
        window.input.setPlainText(QUESTIONS[len(replies)])
        window.send()

    def on_reply(message) -> None:
        replies.append(message)
        if len(replies) < len(QUESTIONS):
            ask_next()
            return
        window.rate(replies[1].id, 1)
        window.store.correct(replies[2].id, CORRECTION)
        window.open_conversation(window.conversation_id)
        preferences = []
        welcome = []
        after(600,
              lambda: grab(window, "screenshot.png"),
              lambda: app.setPalette(dark_palette()),
              lambda: grab(window, "screenshot-dark.png"),
              lambda: app.setPalette(light),
              lambda: preferences.append(window.open_preferences()),
              lambda: grab(preferences[0], "preferences.png"),
              lambda: (preferences[0].reject(), welcome.append(window.show_welcome())),
              lambda: grab(welcome[0], "welcome.png"),
              lambda: (welcome[0].close(), window.shutdown(), app.quit()))

    window.engine_ready.connect(ask_next)
    window.reply_finished.connect(on_reply)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
