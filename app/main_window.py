"""The chat window: conversation list, transcript, input, feedback and the status bar.

Threading: every method here runs on the UI thread. Loading the model and generating a
reply go through `run_in_background`; their results come back as callbacks on this
thread. Store reads for display and single-row feedback writes are millisecond SQLite
calls and stay here.
"""

import threading

from app.background import run_in_background, wait_for_background
from app.dialogs import CorrectionDialog, SystemPromptDialog, wikipedia_consent_box
from app.learning_actions import LearningActions
from app.model_host import ModelHost
from app.qt import (
    QAction,
    QDesktopServices,
    QHBoxLayout,
    QInputDialog,
    QKeySequence,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    Qt,
    QTextBrowser,
    QTimer,
    QUrl,
    QVBoxLayout,
    QWidget,
    Signal,
)
from app.render import ACTION_SCHEME, pending_user_html, streaming_html, transcript_html, why_html
from app.sidebar import ConversationSidebar
from learner import userdata, versions
from learner.chat.engine import Engine
from learner.chat.served import ModelChoice
from learner.chat.turn import Reply
from learner.settings import Settings, SettingsError
from learner.store import Message, Store
from learner.textclean import EmptyMessageError, clean_message

# How often the transcript re-renders while a reply streams: smooth, and cheap for long replies.
STREAM_REFRESH_MS = 50


class MessageInput(QPlainTextEdit):
    """Enter sends, Shift+Enter starts a new line, Escape cancels an edit."""

    submitted = Signal()
    cancelled = Signal()

    def keyPressEvent(self, event):
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
            event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            self.submitted.emit()
            return
        if event.key() == Qt.Key.Key_Escape:
            self.cancelled.emit()
            return
        super().keyPressEvent(event)


class MainWindow(QMainWindow):
    reply_finished = Signal(object)
    """Emitted with the stored reply (a learner.store.Message) when a reply ends, however it ends."""

    engine_ready = Signal()

    model_swapped = Signal(str)
    """Emitted with the version name once a new live version serves the next reply."""

    def __init__(self, store: Store, settings: Settings):
        super().__init__()
        self.store, self.settings = store, settings
        self.host = ModelHost(settings, self)
        self.host.loading.connect(lambda name: self.model_label.setText(f"Loading {name}…"))
        self.host.ready.connect(self._on_engine_ready)
        self.host.swapped.connect(self._on_swapped)
        self.host.failed.connect(self._on_model_failed)
        self.conversation_id: int | None = None
        self._stop: threading.Event | None = None
        self._generating_id: int | None = None
        self._pending_user = ""
        self._stream_text = ""
        self._editing: Message | None = None
        self._allow_close = False
        self.last_error: str | None = None
        self.last_notification: str | None = None
        self.learning = None
        self.tray = None  # set by app.main where the desktop has a tray
        self.data_lock = None  # set by app.main: learner.userdata.window_lock, released by shutdown
        self.consent_box: QMessageBox | None = None

        self.setWindowTitle("grokling")
        self.resize(1100, 720)
        self._build()
        self._stream_timer = QTimer(self, interval=STREAM_REFRESH_MS)
        self._stream_timer.timeout.connect(self._render)
        self.refresh_conversations()

    @property
    def engine(self) -> Engine | None:
        return self.host.engine

    @property
    def conversation_list(self):
        return self.sidebar.list

    # -- layout ------------------------------------------------------------------------

    def _build(self) -> None:
        self.sidebar = ConversationSidebar(self.store)
        self.sidebar.selected.connect(self.open_conversation)
        self.sidebar.new_requested.connect(self.new_conversation)
        self.sidebar.rename_requested.connect(self.rename_conversation)
        self.sidebar.system_prompt_requested.connect(self.edit_system_prompt)
        self.sidebar.delete_requested.connect(self.delete_conversation)
        self.sidebar.learning_toggled.connect(lambda cid, on: self.store.set_learning_opt_out(cid, not on))

        self.title = QLabel()
        self.title.setStyleSheet("font-weight:bold;font-size:14px;")
        prompt_button = QPushButton("System prompt…")
        prompt_button.clicked.connect(self.edit_system_prompt)
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(prompt_button)

        self.transcript = QTextBrowser()
        self.transcript.setOpenLinks(False)
        self.transcript.anchorClicked.connect(self._on_link)

        self.edit_banner = QLabel()
        self.edit_banner.setStyleSheet("color:#b06000;")
        self.edit_banner.hide()
        self.input = MessageInput(placeholderText="Message grokling (Enter to send, Shift+Enter for a new line)")
        self.input.setFixedHeight(90)
        self.input.submitted.connect(self.send)
        self.input.cancelled.connect(self.cancel_edit)
        self.send_button = QPushButton("Send")
        self.send_button.setMinimumWidth(90)
        self.send_button.clicked.connect(self._send_or_stop)
        input_row = QHBoxLayout()
        input_row.addWidget(self.input, 1)
        input_row.addWidget(self.send_button)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addLayout(header)
        right_layout.addWidget(self.transcript, 1)
        right_layout.addWidget(self.edit_banner)
        right_layout.addLayout(input_row)

        splitter = QSplitter()
        splitter.addWidget(self.sidebar)
        splitter.addWidget(right)
        splitter.setSizes([260, 840])
        self.setCentralWidget(splitter)

        self.model_label = QLabel("Loading model…")
        self.speed_label = QLabel()
        self.statusBar().addPermanentWidget(self.speed_label)
        self.statusBar().addWidget(self.model_label)

        file_menu = self.menuBar().addMenu("&File")
        new_action = QAction("&New chat", self, shortcut=QKeySequence.StandardKey.New)
        new_action.triggered.connect(self.new_conversation)
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.quit)
        file_menu.addActions([new_action, quit_action])
        chat_menu = self.menuBar().addMenu("&Chat")
        prompt_action = QAction("&System prompt…", self)
        prompt_action.triggered.connect(self.edit_system_prompt)
        chat_menu.addAction(prompt_action)
        self._update_send_button()

    # -- learning ----------------------------------------------------------------------

    def attach_learning(self, learning) -> None:
        """Show and control the background learner (an app.learning.LearningController)."""
        self.learning = learning
        self.learn_status = QLabel()
        self.learn_progress = QProgressBar(maximumWidth=160, textVisible=True)
        self.learn_progress.hide()
        self.statusBar().addPermanentWidget(self.learn_status)
        self.statusBar().addPermanentWidget(self.learn_progress)
        self.learning_actions = LearningActions(learning, self.open_learning_panel, self)
        self.learn_now_action, self.pause_action = self.learning_actions.learn_now, self.learning_actions.pause
        self.cancel_learning_action = self.learning_actions.cancel
        self.menuBar().addMenu("&Learning").addActions(self.learning_actions.all())
        self.input.textChanged.connect(learning.user_active)
        learning.status_changed.connect(self._show_learning_status)
        learning.progress.connect(self._show_learning_progress)
        learning.finished.connect(self._learning_finished)
        self.learning_panel = None
        learning.refresh()

    def _show_learning_status(self, status: str) -> None:
        self.learn_status.setText(status)
        if self.tray is not None:
            self.tray.setToolTip(f"grokling · {status}")

    def _show_learning_progress(self, event: dict) -> None:
        self.learn_progress.show()
        self.learn_progress.setValue(int(event["percent"]))
        self.learn_progress.setFormat(f"{event['stage']} %p%")

    def _learning_finished(self, result) -> None:
        from learner.learning.cycle import AWAITING_APPROVAL, GATED_OUT, NOTHING_TO_LEARN, PROMOTED

        self.learn_progress.hide()
        title = {PROMOTED: "New version live", GATED_OUT: "Candidate gated out", NOTHING_TO_LEARN: "Nothing to learn",
                 AWAITING_APPROVAL: "A new version waits for your approval"}.get(result.code, "Learning stopped")
        self.notify(title, result.reason)
        if result.code == PROMOTED:
            self.host.check_live_version()
        if result.code == AWAITING_APPROVAL:
            self.open_learning_panel()
        elif self.learning_panel is not None:
            self.learning_panel.refresh()

    def notify(self, title: str, message: str) -> None:
        """A desktop notification through the tray where there is one; the status bar always."""
        self.last_notification = f"{title}: {message}"
        self.statusBar().showMessage(self.last_notification, 15000)
        if self.tray is not None:
            self.tray.showMessage(title, message)

    def open_learning_panel(self):
        from app.learning_panel import LearningPanel

        if self.learning_panel is None:
            self.learning_panel = LearningPanel(self)
            self.learning_panel.rolled_back.connect(lambda _: self.host.check_live_version())
        else:
            self.learning_panel.refresh()
        self.learning_panel.show()
        self.learning_panel.raise_()
        return self.learning_panel

    # -- model -------------------------------------------------------------------------

    def load_model(self, model: ModelChoice) -> None:
        """Serve `model` (loaded off the UI thread; the embedded model if it cannot load)."""
        self.host.load(model)

    def _on_engine_ready(self, engine: Engine) -> None:
        self.model_label.setText(f"{engine.model.display_name} · version {engine.model.version}")
        self._update_send_button()
        self.engine_ready.emit()

    def _on_swapped(self, version: str) -> None:
        self.statusBar().showMessage(f"Now answering with version {version}.", 8000)
        self.model_swapped.emit(version)

    def _on_model_failed(self, reason: str) -> None:
        if self.engine is None:
            self.model_label.setText("No model")
        self.show_error(reason)

    # -- conversations -----------------------------------------------------------------

    def refresh_conversations(self, select_id: int | None = None) -> None:
        self.sidebar.refresh(select_id if select_id is not None else self.conversation_id)

    def open_conversation(self, conversation_id: int) -> None:
        self.cancel_edit()
        self.conversation_id = conversation_id
        self.title.setText(self.store.conversation(conversation_id).title)
        self._render()
        self.input.setFocus()

    def new_conversation(self) -> None:
        conversation_id = self.store.new_conversation()
        self.sidebar.search.clear()
        self.refresh_conversations(conversation_id)
        self.open_conversation(conversation_id)

    def rename_conversation(self, conversation_id: int) -> None:
        current = self.store.conversation(conversation_id).title
        title, ok = QInputDialog.getText(self, "Rename chat", "Title:", text=current)
        if ok and title.strip():
            self.store.rename_conversation(conversation_id, title)
            self.refresh_conversations()
            if conversation_id == self.conversation_id:
                self.title.setText(self.store.conversation(conversation_id).title)

    def delete_conversation(self, conversation_id: int, confirm: bool = True) -> None:
        if conversation_id == self._generating_id:
            self.show_error("Stop the reply in progress before deleting this chat.")
            return
        title = self.store.conversation(conversation_id).title
        if confirm and QMessageBox.question(self, "Delete chat", self._delete_question(title)) != (
            QMessageBox.StandardButton.Yes
        ):
            return
        userdata.forget_conversation(self.store, conversation_id, self.settings)
        if conversation_id == self.conversation_id:
            self.conversation_id = None
            self.title.clear()
            self.transcript.clear()
        self.refresh_conversations()

    @staticmethod
    def _delete_question(title: str) -> str:
        question = f"Delete “{title}” and all its messages? They leave the learner's training data too."
        live = versions.live_version()
        if live is None:
            return question
        # Deleting cannot reach into weights: say so rather than let "deleted" promise it.
        return (f"{question}\n\nThe live learned version {live.name} keeps what it learned from this chat in its "
                "weights until a later learning cycle makes a new version without it (a cycle runs once there is "
                "new feedback to learn).")

    def edit_system_prompt(self, conversation_id: int | None = None) -> None:
        conversation_id = conversation_id or self.conversation_id
        if not conversation_id:
            return
        current = self.store.conversation(conversation_id).system_prompt
        dialog = SystemPromptDialog(current, self.settings.system_prompt, self)
        dialog.accepted.connect(lambda: self.store.set_system_prompt(conversation_id, dialog.prompt()))
        dialog.open()

    # -- sending -----------------------------------------------------------------------

    @property
    def generating(self) -> bool:
        return self._stop is not None

    def _update_send_button(self) -> None:
        self.send_button.setText("Stop" if self.generating else "Send")
        self.send_button.setEnabled(self.generating or self.engine is not None)

    def _send_or_stop(self) -> None:
        if self.generating:
            self.stop()
        else:
            self.send()

    def send(self) -> None:
        if self.generating or self.engine is None:
            return
        text = self.input.toPlainText()
        try:
            clean_message(text)
        except EmptyMessageError as e:
            self.statusBar().showMessage(str(e), 4000)
            return
        if self.conversation_id is None:
            self.new_conversation()
        self.input.clear()
        supersede = self._editing.id if self._editing else None
        self.cancel_edit()
        self._generate(text=text, supersede=supersede)

    def regenerate(self, message_id: int) -> None:
        if not self.generating and self.engine is not None:
            self._generate(text=None, supersede=message_id)

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def _generate(self, text: str | None, supersede: int | None) -> None:
        """Run one turn off the UI thread: take replaced messages out, commit the user's, stream the reply."""
        stop = self._stop = threading.Event()
        conversation_id = self._generating_id = self.conversation_id
        store, engine, settings = self.store, self.engine, self.settings
        self._pending_user, self._stream_text = text or "", ""
        self._update_send_button()

        def turn(progress) -> Message:
            if supersede is not None:
                store.supersede_from(supersede)
            if text is not None:
                store.add_user_message(conversation_id, text)
                progress(("saved", None))
            reply = Reply(store, engine, conversation_id, settings, stop=stop)
            for piece in reply:
                progress(("piece", piece))
            return reply.message

        def on_progress(event) -> None:
            kind, value = event
            if kind == "saved":
                self._pending_user = ""
                self.refresh_conversations()
            else:
                self._stream_text += value

        def finished(message: Message) -> None:
            self._end_generation()
            if message.tokens_per_s:
                self.speed_label.setText(f"{message.tokens_per_s:.1f} tok/s")
            self.reply_finished.emit(message)

        def failed(error: BaseException) -> None:
            # The user's words were not stored (or the turn broke after): give them back.
            if self._pending_user and not self.input.toPlainText():
                self.input.setPlainText(self._pending_user)
            self._end_generation()
            self.show_error(error)

        self._stream_timer.start()
        self._render()
        run_in_background(turn, finished, failed, on_progress)

    def _end_generation(self) -> None:
        self._stream_timer.stop()
        self._stop = None
        self._generating_id = None
        self._pending_user = self._stream_text = ""
        self._update_send_button()
        self.refresh_conversations()
        if self.conversation_id is not None:  # a new chat is named after its first message
            self.title.setText(self.store.conversation(self.conversation_id).title)
        self._render()

    # -- transcript --------------------------------------------------------------------

    def _render(self) -> None:
        if self.conversation_id is None:
            return
        tail = ""
        if self.generating and self._generating_id == self.conversation_id:
            if self._pending_user:
                tail += pending_user_html(self._pending_user)
            tail += streaming_html(self._stream_text)
        messages = self.store.thread(self.conversation_id)
        bar = self.transcript.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 4
        position = bar.value()
        self.transcript.setHtml(transcript_html(messages, tail))
        bar.setValue(bar.maximum() if at_bottom else position)

    def _on_link(self, url: QUrl) -> None:
        if url.scheme() != ACTION_SCHEME:
            QDesktopServices.openUrl(url)
            return
        action, _, message_id = url.path().partition(":")
        message = self.store.message(int(message_id))
        if action == "up":
            self.rate(message.id, 0 if message.rating == 1 else 1)
        elif action == "down":
            self.rate(message.id, 0 if message.rating == -1 else -1)
        elif action == "correct":
            self.correct(message.id)
        elif action == "regenerate":
            self.regenerate(message.id)
        elif action == "edit":
            self.start_edit(message)
        elif action == "why":
            self.show_why(message)

    def show_why(self, message: Message) -> QMessageBox:
        """Why the reply knew what it said: the taught items instant memory gave the model."""
        box = QMessageBox(QMessageBox.Icon.Information, "Why do you know this?", why_html(message), parent=self)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    def rate(self, message_id: int, rating: int) -> None:
        self.store.rate(message_id, rating)
        self._render()

    def correct(self, message_id: int) -> CorrectionDialog:
        """Open the correction editor, prefilled with the reply (or the earlier correction)."""
        message = self.store.message(message_id)
        dialog = CorrectionDialog(message.correction or message.content, self)

        def save() -> None:
            try:
                self.store.correct(message_id, dialog.correction())
            except EmptyMessageError as e:
                self.show_error(e)
                return
            self.statusBar().showMessage("Correction saved: grokling will learn from it.", 5000)
            self._render()

        dialog.accepted.connect(save)
        dialog.open()
        return dialog

    def start_edit(self, message: Message) -> None:
        if self.generating:
            return
        self._editing = message
        self.input.setPlainText(message.content)
        self.edit_banner.setText("Editing an earlier message: sending replaces it and everything after it. Esc cancels.")
        self.edit_banner.show()
        self.input.setFocus()

    def cancel_edit(self) -> None:
        if self._editing is not None:
            self._editing = None
            self.edit_banner.hide()

    # -- Wikipedia consent -------------------------------------------------------------

    def ask_wikipedia_consent(self) -> QMessageBox:
        """Ask whether topics may be searched for on Wikipedia; the answer ("Not now" too) goes into settings.json."""
        box = self.consent_box = wikipedia_consent_box(self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(
            lambda button: self.set_wikipedia_consent(box.standardButton(button) == QMessageBox.StandardButton.Yes))
        box.show()
        return box

    def set_wikipedia_consent(self, agreed: bool) -> None:
        try:
            self.settings.wikipedia_consent = Settings.change(wikipedia_consent=agreed).wikipedia_consent
        except SettingsError as e:  # a settings.json that is not JSON: the user's to fix, and then to answer
            self.show_error(e)

    # -- errors and closing ------------------------------------------------------------

    def show_error(self, error) -> None:
        """Tell the user, without blocking: a reply or a model load may still be running."""
        self.last_error = str(error)
        box = QMessageBox(QMessageBox.Icon.Warning, "grokling", self.last_error, parent=self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def quit(self) -> None:
        self._allow_close = True
        self.close()

    def shutdown(self) -> None:
        """Stop the learner and the reply in progress; release the model and the database, in that order."""
        if self.learning is not None:
            self.learning.shutdown()
        self.stop()
        wait_for_background(timeout=30)
        self.host.close()
        self.store.close()
        if self.data_lock is not None:
            userdata.release_window_lock(self.data_lock)

    def closeEvent(self, event) -> None:
        if self.tray is not None and self.tray.isVisible() and not self._allow_close:
            self.hide()  # keep running in the tray, where the learner lives
            event.ignore()
            return
        self.stop()
        super().closeEvent(event)
