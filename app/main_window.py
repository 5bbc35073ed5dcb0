"""The chat window: conversation list, transcript, input, feedback, menus and the status bar.

Every action on a message (▲ ▼, Correct, Copy, Regenerate, Edit) is a link under it, an entry
of its context menu, and, for the keyboard, a shortcut that acts on the message the
transcript's cursor is in while the transcript has focus (a click, a selection, Tab to a
link), else on the last reply.

Threading: every method here runs on the UI thread. Loading the model and generating a
reply go through `run_in_background`; their results come back as callbacks on this
thread. Store reads for display and single-row feedback writes are millisecond SQLite
calls and stay here.
"""

import threading
from pathlib import Path

from app.background import run_in_background, wait_for_background
from app.dialogs import CorrectionDialog, SystemPromptDialog, welcome_box, wikipedia_consent_box
from app.learning_actions import LearningActions
from app.model_host import ModelHost
from app.preferences import PreferencesDialog
from app.qt import (
    QAction,
    QApplication,
    QDesktopServices,
    QFileDialog,
    QEvent,
    QGuiApplication,
    QHBoxLayout,
    QInputDialog,
    QKeySequence,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    Qt,
    QTimer,
    QUrl,
    QVBoxLayout,
    QWidget,
    Signal,
)
from app.render import ACTION_SCHEME, Theme, message_html, pending_user_html, streaming_html, why_html
from app.sidebar import ConversationSidebar
from app.transcript import Transcript
from learner import models, paths, userdata
from learner.api import ApiServer, ServeError
from learner.chat.engine import Engine
from learner.chat.served import ModelChoice
from learner.chat.turn import Reply
from learner.files import atomic_write_text
from learner.settings import Settings, SettingsError
from learner.store import Message, Store
from learner.textclean import EmptyMessageError, clean_message
from learner.transcript import conversation_json, conversation_markdown

# How often the streaming reply is re-rendered: smooth, and cheap (only its own table changes).
STREAM_REFRESH_MS = 50


class MessageInput(QPlainTextEdit):
    """Enter sends, Shift+Enter starts a new line, Escape cancels an edit (while a reply streams, the
    window's Stop shortcut takes Escape first)."""

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
        self.host.ready.connect(self._serve_from)
        self.api: ApiServer | None = None
        self.host.swapped.connect(self._on_swapped)
        self.host.failed.connect(self._on_model_failed)
        self.host.gpu_changed.connect(self._on_gpu_changed)
        self.models_dialog = None
        self.learning_panel = None
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

        self.theme = Theme.of(self.palette())
        self.setWindowTitle("grokling")
        self.resize(1100, 720)
        self._build()
        self._stream_timer = QTimer(self, interval=STREAM_REFRESH_MS)
        self._stream_timer.timeout.connect(self._render_stream)
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._follow_palette)
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
        font = self.title.font()  # a font, not a style sheet: a style sheet would keep the palette it started with
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.title.setFont(font)
        self.title.setAccessibleName("Chat title")
        prompt_button = QPushButton("System prompt…")
        prompt_button.setAccessibleName("System prompt of this chat")
        prompt_button.clicked.connect(self.edit_system_prompt)
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(prompt_button)

        self.transcript = Transcript(self._entry_html)
        self.transcript.setAccessibleName("Conversation")
        self.transcript.setAccessibleDescription(
            "The messages of this chat. Tab moves between the actions under each message; the Chat menu's "
            "shortcuts act on the message the cursor is in.")
        self.transcript.anchorClicked.connect(self._on_link)
        self.transcript.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.transcript.customContextMenuRequested.connect(self._transcript_menu)

        self.edit_banner = QLabel()
        self.edit_banner.setStyleSheet("color:#b06000;")
        self.edit_banner.hide()
        self.input = MessageInput(placeholderText="Message grokling (Enter to send, Shift+Enter for a new line)")
        self.input.setAccessibleName("Message")
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
        self.model_label.setAccessibleName("Model")
        self.speed_label = QLabel()
        self.speed_label.setAccessibleName("Speed of the last reply")
        self.statusBar().addPermanentWidget(self.speed_label)
        self.statusBar().addWidget(self.model_label)
        self._build_menus()
        self._update_send_button()

    def _action(self, text: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        return action

    def _build_menus(self) -> None:
        self.new_action = self._action("&New chat", self.new_conversation, QKeySequence.StandardKey.New)
        quit_action = self._action("&Quit", self.quit, QKeySequence.StandardKey.Quit)
        self.export_action = self._action("&Export chat…", lambda: self.export_conversation(), "Ctrl+Shift+E")
        self.serve_action = self._action("Serve the &local API", lambda on: self.set_serving(on))
        self.serve_action.setCheckable(True)
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addActions([self.new_action, self.export_action, self.serve_action])
        file_menu.addSeparator()
        file_menu.addAction(quit_action)

        self.copy_action = self._action("&Copy message", lambda: self._act_on_target("copy", any_role=True),
                                        "Ctrl+Shift+C")
        self.find_action = self._action("&Find in chats", self.find_chats, QKeySequence.StandardKey.Find)
        self.preferences_action = self._action("&Preferences…", self.open_preferences, "Ctrl+,")
        self.preferences_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        edit_menu = self.menuBar().addMenu("&Edit")
        edit_menu.addActions([self.copy_action, self.find_action])
        edit_menu.addSeparator()
        edit_menu.addAction(self.preferences_action)

        self.stop_action = self._action("&Stop the reply", self.stop, "Esc")
        self.regenerate_action = self._action("&Regenerate the last reply", self.regenerate_last, "Ctrl+R")
        self.good_action = self._action("▲ &Good reply", lambda: self._act_on_target("up"), "Alt+Up")
        self.bad_action = self._action("▼ &Bad reply", lambda: self._act_on_target("down"), "Alt+Down")
        self.correct_action = self._action("✎ &Correct the reply…", lambda: self._act_on_target("correct"), "F2")
        prompt_action = self._action("S&ystem prompt…", self.edit_system_prompt)
        chat_menu = self.menuBar().addMenu("&Chat")
        chat_menu.addActions([self.stop_action, self.regenerate_action])
        chat_menu.addSeparator()
        chat_menu.addActions([self.good_action, self.bad_action, self.correct_action])
        chat_menu.addSeparator()
        chat_menu.addAction(prompt_action)

        self.models_action = self._action("&Models…", self.open_models, "Ctrl+M")
        self.model_menu = self.menuBar().addMenu("&Model")
        self.model_menu.addAction(self.models_action)

        self.help_menu = self.menuBar().addMenu("&Help")
        self.help_menu.addAction(self._action("&Welcome", lambda: self.show_welcome()))

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
        self.learning_menu = QMenu("&Learning", self)
        self.learning_menu.addActions(self.learning_actions.all())
        self.menuBar().insertMenu(self.help_menu.menuAction(), self.learning_menu)
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
            self.host.check_served()
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
            self.learning_panel.rolled_back.connect(lambda _: self.host.check_served())
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
        where = " · GPU" if engine.on_gpu else ""
        self.model_label.setText(f"{engine.model.display_name} · version {engine.model.version}{where}")
        self.model_label.setToolTip(f"{engine.model.display_name}, version {engine.model.version}: {engine.model.path}")
        self._update_send_button()
        self.engine_ready.emit()

    def _on_swapped(self, version: str) -> None:
        self.statusBar().showMessage(f"Now answering with {self.engine.model.display_name}, version {version}.", 8000)
        self.model_swapped.emit(version)

    def _on_gpu_changed(self, on_gpu: bool) -> None:
        self.statusBar().showMessage("Chat is back on the GPU." if on_gpu else
                                     "Chat moved to the CPU while learning trains on the GPU.", 8000)

    def _model_activated(self, model) -> None:
        """Another model is active: serve it, and show its learning status and versions."""
        self.host.check_served()
        if self.learning is not None:
            self.learning.refresh()
        if self.learning_panel is not None:
            self.learning_panel.refresh()

    def open_models(self):
        """The Models dialog: list, add, use, remove; a model made active is loaded at once."""
        from app.models_dialog import ModelsDialog

        if self.models_dialog is None:
            self.models_dialog = ModelsDialog(self.settings, self)
            self.models_dialog.activated.connect(self._model_activated)
        else:
            self.models_dialog.settings = self.settings
            self.models_dialog.refresh()
        self.models_dialog.show()
        self.models_dialog.raise_()
        return self.models_dialog

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
        self._show_title()
        self._render(reset=True)
        self.input.setFocus()

    def _show_title(self) -> None:
        """The open chat's title in the header and the window's title (a new chat is named by its first message)."""
        title = self.store.conversation(self.conversation_id).title if self.conversation_id is not None else ""
        self.title.setText(title)
        self.setWindowTitle(f"{title} – grokling" if title else "grokling")

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
            self._show_title()

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
            self._show_title()
            self.transcript.show_entries([], reset=True)
        self.refresh_conversations()

    @staticmethod
    def _delete_question(title: str) -> str:
        question = f"Delete “{title}” and all its messages? They leave the learner's training data too."
        model = models.active()
        live = model.lineage.live_version()
        if live is None:
            return question
        # Deleting cannot reach into weights: say so rather than let "deleted" promise it.
        return (f"{question}\n\n{model.name}'s live learned version {live.name} keeps what it learned from this chat in its "
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
        self.send_button.setAccessibleName("Stop the reply" if self.generating else "Send the message")
        self.send_button.setEnabled(self.generating or self.engine is not None)
        self.stop_action.setEnabled(self.generating)  # else Escape goes to the input: it cancels an edit

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

    def regenerate_last(self) -> None:
        messages = self._shown_messages()
        if messages and messages[-1].role == "assistant":
            self.regenerate(messages[-1].id)

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
                if conversation_id == self.conversation_id:
                    self._show_title()
                    self._render()
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
        self._show_title()
        self._render()

    # -- transcript --------------------------------------------------------------------

    # The transcript's entries: ("message", Message, is_last), ("sending", text), ("streaming", text).

    def _entry_html(self, entry: tuple) -> str:
        if entry[0] == "message":
            return message_html(entry[1], entry[2], self.theme)
        return (pending_user_html if entry[0] == "sending" else streaming_html)(entry[1], self.theme)

    def _render(self, reset: bool = False) -> None:
        """Show the open chat as stored, and the message being sent and the reply streaming, if any; only
        what changed is re-rendered, unless `reset` (another chat, other colours)."""
        if self.conversation_id is None:
            return
        tail = []
        if self.generating and self._generating_id == self.conversation_id:
            if self._pending_user:
                tail.append(("sending", self._pending_user))
            tail.append(("streaming", self._stream_text))
        messages = self.store.thread(self.conversation_id)
        entries = [("message", m, i == len(messages) - 1 and not tail) for i, m in enumerate(messages)]
        self.transcript.show_entries(entries + tail, reset)

    def _render_stream(self) -> None:
        """The timer's update while a reply streams: its own entry, nothing else."""
        entries = self.transcript.entries()
        if entries and entries[-1][0] == "streaming":
            self.transcript.show_entries([*entries[:-1], ("streaming", self._stream_text)])

    def _shown_messages(self) -> list[Message]:
        return [e[1] for e in self.transcript.entries() if e[0] == "message"]

    def _follow_palette(self) -> None:
        """Re-render in the palette's colours when the system's scheme (or the application's palette) changes."""
        theme = Theme.of(self.palette())
        if theme != self.theme:
            self.theme = theme
            self._render(reset=True)

    def changeEvent(self, event) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._follow_palette()
        super().changeEvent(event)

    def _on_link(self, url: QUrl) -> None:
        if url.scheme() != ACTION_SCHEME:
            QDesktopServices.openUrl(url)
            return
        action, _, message_id = url.path().partition(":")
        self.act(action, self.store.message(int(message_id)))

    def act(self, action: str, message: Message) -> None:
        """One of the actions under a message: up, down, correct, copy, regenerate, edit, why."""
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
        elif action == "copy":
            self.copy_message(message)

    def target_message(self, any_role: bool = False) -> Message | None:
        """What the keyboard's actions act on: the message the transcript's cursor is in while the transcript
        has focus (a click, a selection, Tab to one of its links), else the last reply. Only replies, unless
        `any_role`."""
        if self.transcript.hasFocus():
            entry = self.transcript.entry_at(self.transcript.textCursor().position())
            if entry is not None and entry[0] == "message" and (any_role or entry[1].role == "assistant"):
                return entry[1]
        replies = [m for m in self._shown_messages() if m.role == "assistant"]
        return replies[-1] if replies else None

    def _act_on_target(self, action: str, any_role: bool = False) -> None:
        message = self.target_message(any_role)
        if message is None:
            self.statusBar().showMessage("No reply to act on yet.", 3000)
        else:
            self.act(action, self.store.message(message.id))

    def message_menu(self, message: Message, parent=None) -> QMenu:
        """The actions on one message, as a menu (the transcript's context menu adds them)."""
        menu = QMenu(parent or self)
        shown = self._shown_messages()
        entries = [("copy", "Copy message")]
        if message.role == "user":
            entries.append(("edit", "✎ Edit and resend"))
        else:
            entries += [("up", "▲ Good"), ("down", "▼ Bad"), ("correct", "✎ Correct this…")]
            if shown and shown[-1].id == message.id:
                entries.append(("regenerate", "↻ Regenerate"))
        for action, label in entries:
            menu.addAction(label, lambda a=action: self.act(a, self.store.message(message.id)))
        return menu

    def _transcript_menu(self, point) -> None:
        """The text's own menu (copy the selection, select all) and, over a message, its actions. The menu key
        opens it at the cursor, so a keyboard user reaches every action on the message they are in."""
        menu = self.transcript.createStandardContextMenu(point)
        entry = self.transcript.entry_at(self.transcript.cursorForPosition(point).position())
        if entry is not None and entry[0] == "message":
            menu.addSeparator()
            menu.addActions(self.message_menu(entry[1], menu).actions())
        menu.exec(self.transcript.viewport().mapToGlobal(point))
        menu.deleteLater()

    def copy_message(self, message: Message) -> None:
        QApplication.clipboard().setText(message.content)
        self.statusBar().showMessage("Message copied.", 3000)

    def find_chats(self) -> None:
        """Ctrl+F: the sidebar's search, which looks through every chat's title and messages."""
        self.sidebar.search.setFocus()
        self.sidebar.search.selectAll()

    def show_why(self, message: Message) -> QMessageBox:
        """Why the reply knew what it said: the taught items instant memory gave the model."""
        box = QMessageBox(QMessageBox.Icon.Information, "Why do you know this?", why_html(message, self.theme),
                          parent=self)
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

    # -- preferences and welcome -------------------------------------------------------

    def open_preferences(self) -> PreferencesDialog:
        dialog = PreferencesDialog(self.settings, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self.apply_settings)
        dialog.open()
        return dialog

    def apply_settings(self, settings: Settings) -> None:
        """Run on saved settings from now on: the next reply, the model host (a new model, context or thread
        count loads the engine again) and the learner."""
        self.settings = settings
        self.host.apply_settings(settings)
        if self.learning is not None:
            self.learning.apply_settings(settings)
        self.statusBar().showMessage("Preferences saved.", 4000)

    def show_welcome(self, first_run: bool = False) -> QMessageBox | None:
        """What ▲ ▼ and Correct do and what learning does; with `first_run`, only if it was never shown."""
        marker = paths.welcome_marker()
        if first_run and marker.exists():
            return None
        marker.touch()
        box = welcome_box(self.settings, self)
        box.open()
        return box


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

    # -- export and the local API ------------------------------------------------------

    def export_conversation(self, path: str | None = None) -> None:
        """Save the open chat as Markdown (.md) or JSON (.json), as the file name says."""
        if self.conversation_id is None:
            return
        if path is None:
            title = self.store.conversation(self.conversation_id).title
            path, _ = QFileDialog.getSaveFileName(self, "Export chat", f"{title[:40]}.md",
                                                  "Markdown (*.md);;JSON (*.json)")
        if not path:
            return
        conversation_id = self.conversation_id
        as_json = path.lower().endswith(".json")

        def write(_) -> None:
            text = (conversation_json if as_json else conversation_markdown)(self.store, conversation_id)
            atomic_write_text(Path(path), text)

        run_in_background(write, lambda _: self.statusBar().showMessage(f"Chat saved to {path}.", 5000),
                          self.show_error)

    def set_serving(self, on: bool) -> None:
        """Serve the local OpenAI-compatible API from this window's own engine (no second copy of the model)."""
        if not on:
            if self.api is not None:
                self.api.stop()
                self.api = None
            self.statusBar().showMessage("The local API is off.", 5000)
            return
        if self.engine is None:
            self.serve_action.setChecked(False)
            return
        self.api = ApiServer(self.store, lambda: self.settings, port=self.settings.api_port,
                             api_key=self.settings.api_key)
        try:
            self.api.start(self.engine)
        except ServeError as e:
            self.api = None
            self.serve_action.setChecked(False)
            self.show_error(e)
            return
        self.statusBar().showMessage(f"Serving the local API at {self.api.url}.", 8000)

    def _serve_from(self, engine) -> None:
        """The model host replaced its engine: the API answers with the new one from the next exchange."""
        if self.api is not None:
            self.api.engine = engine

    def shutdown(self) -> None:
        """Stop the learner, the local API and the reply in progress; release the model and the database."""
        if self.api is not None:
            self.api.stop()
            self.api = None
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
