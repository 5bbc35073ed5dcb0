"""Regenerate the Models dialog's screenshots in docs/: the real window and dialog under a real X server
(Xvfb), in a throw-away data dir, never the user's.

    python docs/models_screenshots.py

Derives the embedded model's own weights as an HF checkpoint folder (learner.learning.checkpoint), adds it
in the dialog as "my model" (grokling converts and quantizes it: shot while it converts), uses it, asks it
one question at temperature 0, and shoots the dialog and the window (the status bar names the model).
Starts `Xvfb :99` when there is no DISPLAY (see docs/screenshot.py).
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Sets GROKLING_HOME to a throw-away folder and QT_QPA_PLATFORM to xcb, and puts the repository on the path.
from screenshot import DOCS, on_x_server  # noqa: E402

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def main() -> int:
    return on_x_server(shoot)


def shoot() -> int:
    from app.main import create_window
    from learner.chat.served import embedded_gguf
    from learner.learning import checkpoint
    from learner.settings import Settings

    Settings.change(wikipedia_consent=False)  # answered already: the first-run question is not in the shots
    folder = checkpoint.derive_from_gguf(embedded_gguf(), Path(os.environ["GROKLING_HOME"]) / "my-model-hf")
    app = QApplication(sys.argv)
    app.setStyle("Fusion")
    window = create_window(start_scheduler=False)
    window.apply_settings(Settings(temperature=0.0, max_tokens=60))
    window.resize(1100, 720)
    window.show()
    shots = {"adding": False}

    def grab(widget, name: str) -> None:
        path = DOCS / name
        widget.screen().grabWindow(widget.winId()).save(str(path))
        print(f"wrote {path}")

    def start() -> None:
        window.engine_ready.disconnect(start)
        dialog = window.open_models()
        dialog.move(window.x() + 120, window.y() + 140)

        def progress(_) -> None:
            if not shots["adding"] and "converting" in dialog.progress_label.text():
                shots["adding"] = True
                QTimer.singleShot(1500, lambda: grab(dialog, "models-adding.png"))

        def added(busy: bool) -> None:
            if busy:
                return
            dialog.select("my model")
            window.model_swapped.connect(lambda _: QTimer.singleShot(800, ask))
            dialog.use_button.click()

        def ask() -> None:
            window.new_conversation()
            window.input.setPlainText("What is the capital of Japan?")
            window.send()

        def answered(_) -> None:
            dialog.refresh()
            QTimer.singleShot(1200, lambda: (grab(dialog, "models.png"), dialog.hide(),
                                             QTimer.singleShot(600, finish)))

        def finish() -> None:
            grab(window, "models-window.png")
            window.shutdown()
            app.quit()

        dialog.progress_bar.valueChanged.connect(progress)
        dialog.busy_changed.connect(added)
        window.reply_finished.connect(answered)
        QTimer.singleShot(800, lambda: dialog.add(str(folder), None, "my model"))

    window.engine_ready.connect(start)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
