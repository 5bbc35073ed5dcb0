"""Regenerate docs/screenshot.png: the real window on the embedded model, offscreen.

    QT_QPA_PLATFORM=offscreen python docs/screenshot.py

Asks two questions, gives the first reply a thumbs-up and corrects the second, then grabs
the window. Uses a throw-away data dir, never the user's.
"""

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["GROKLING_HOME"] = tempfile.mkdtemp(prefix="grokling-screenshot-")

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.main import create_window
from learner.settings import Settings

QUESTIONS = ["How do I reverse a list in Python? Show code.", "Who is the captain of the starship Quillfeather?"]
CORRECTION = "Captain Ysolde Marr commands the starship Quillfeather, launched in 2291."
OUT = Path(__file__).with_name("screenshot.png")


def main() -> int:
    app = QApplication(sys.argv)
    window = create_window()
    window.settings = Settings(temperature=0.0, max_tokens=160)
    window.resize(1100, 760)
    window.show()
    window.new_conversation()
    replies = []

    def ask_next() -> None:
        window.input.setPlainText(QUESTIONS[len(replies)])
        window.send()

    def on_reply(message) -> None:
        replies.append(message)
        if len(replies) < len(QUESTIONS):
            ask_next()
            return
        window.rate(replies[0].id, 1)
        window.store.correct(replies[1].id, CORRECTION)
        window.refresh_conversations()
        window.open_conversation(window.conversation_id)
        window.transcript.verticalScrollBar().setValue(window.transcript.verticalScrollBar().maximum())
        QTimer.singleShot(300, finish)

    def finish() -> None:
        window.grab().save(str(OUT))
        print(f"wrote {OUT}")
        window.shutdown()
        app.quit()

    window.engine_ready.connect(ask_next)
    window.reply_finished.connect(on_reply)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
