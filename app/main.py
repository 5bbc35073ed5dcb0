"""Start the window: settings, store, the model loading in the background, the tray."""

import sys
from importlib.resources import files


from app.background import run_in_background
from app.qt import QApplication, QIcon, QMessageBox
from app.learning import LearningController
from app.main_window import MainWindow
from app.tray import make_tray
from learner.chat.served import live_model
from learner.models import adding
from learner.paths import DataDirError
from learner.settings import Settings, SettingsError
from learner.store import Store
from learner.userdata import window_lock


def create_window(start_scheduler: bool = True) -> MainWindow:
    """Build the window over the user's data; the caller shows it. Needs a QApplication.

    The window holds its lock from before it opens the database until `shutdown`, so
    `grokling data delete` cannot delete the data under it."""
    lock = window_lock()
    lock.acquire()
    try:
        settings, problems = Settings.load_with_problems()
    except SettingsError as e:
        settings, problems = Settings(), [f"{e}\n\nUsing the default settings; the file was left as it is."]
    else:
        if problems:
            problems.append("Those settings use their defaults; the file was left as it is.")
    window = MainWindow(Store(), settings)
    window.data_lock = lock
    window.setWindowIcon(QIcon(str(files("resources").joinpath("icon.svg"))))
    window.attach_learning(LearningController(settings, start_scheduler=start_scheduler))
    window.tray = make_tray(window, window.windowIcon())
    if problems:
        window.show_error("\n".join(problems))
    if settings.learn_from_wikipedia and not Settings.in_file("wikipedia_consent"):
        window.ask_wikipedia_consent()  # the first run, or the first since Wikipedia needs consent

    def serve(note: str | None) -> None:
        if note:  # an older settings.json's model, now a model of the registry (or why it could not be)
            window.show_error(note)
        try:
            model = live_model()
        except FileNotFoundError as e:
            window.show_error(e)
        else:
            window.load_model(model)

    run_in_background(lambda _: adding.adopt_retired_settings(), serve, lambda e: (window.show_error(e), serve(None)))
    return window


def run() -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("grokling")
    try:
        window = create_window()
    except DataDirError as e:
        print(f"grokling: {e}", file=sys.stderr)
        QMessageBox.critical(None, "grokling", str(e))
        return 2
    window.show()
    if window.conversation_list.count():
        window.conversation_list.setCurrentRow(0)
    else:
        window.new_conversation()
    window.show_welcome(first_run=True)
    # With a tray, closing the window keeps the app (and later the learner) running.
    app.setQuitOnLastWindowClosed(window.tray is None)
    app.aboutToQuit.connect(window.shutdown)
    return app.exec()
