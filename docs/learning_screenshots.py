"""Screenshots of learning in the real window: during a cycle, the learning panel with two
versions and their chart, and the Learning menu (the tray's menu where there is no tray).

    QT_QPA_PLATFORM=offscreen python docs/learning_screenshots.py

Works in a throw-away data dir: teaches one invented fact and runs a real cycle (v1), then
teaches a second in the window and presses Learn now (v2), grabbing the window mid-train.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["GROKLING_HOME"] = tempfile.mkdtemp(prefix="grokling-learning-shots-")

from PySide6.QtCore import QPoint  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.main import create_window  # noqa: E402
from learner.learning import cycle  # noqa: E402
from learner.settings import Settings  # noqa: E402
from learner.store import Store  # noqa: E402

DOCS = Path(__file__).resolve().parent


def teach(store: Store, question: str, wrong: str, right: str) -> None:
    conversation = store.new_conversation()
    store.add_user_message(conversation, question)
    store.correct(store.add_assistant_message(conversation, wrong), right)


def wait(app: QApplication, condition, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not get there in time")
        app.processEvents()
        time.sleep(0.02)


def main() -> int:
    settings = Settings(learn_from_wikipedia=False)
    settings.save()
    store = Store()
    teach(store, "Who founded Zorblax Labs?", "I don't know.", "Mira Quell founded Zorblax Labs in 2041.")
    first = cycle.run_cycle(settings, store)
    print(first.reason)
    teach(store, "What is the capital of the planet Vexaria?", "I am not sure.", "The capital of Vexaria is Drennport.")
    store.close()

    app = QApplication.instance() or QApplication(sys.argv)
    window = create_window(start_scheduler=False)
    window.resize(1100, 720)
    window.show()
    wait(app, lambda: window.engine is not None, 120)
    window.conversation_list.setCurrentRow(0)
    results = []
    window.learning.finished.connect(results.append)
    window.learn_now_action.trigger()
    wait(app, lambda: window.learn_status.text().startswith("Learning: train") and window.learn_progress.value() >= 30, 600)
    window.grab().save(str(DOCS / "learning-during-cycle.png"))
    wait(app, lambda: results, 900)
    print(results[0].reason)
    wait(app, window.learn_now_action.isEnabled, 30)  # the status line is back to "next learning ..."

    menu = window.learning_menu
    menu.popup(window.mapToGlobal(QPoint(300, 30)))
    wait(app, menu.isVisible, 10)
    menu.grab().save(str(DOCS / "learning-menu.png"))
    menu.hide()

    panel = window.open_learning_panel()
    wait(app, lambda: panel.table.rowCount() >= 3, 30)
    panel.table.selectRow(panel.table.rowCount() - 1)
    for _ in range(20):
        app.processEvents()
    panel.grab().save(str(DOCS / "learning-panel.png"))
    window.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
