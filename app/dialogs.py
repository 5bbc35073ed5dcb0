"""Small dialogs the window opens: a reply's correction, a conversation's system prompt, the welcome,
and the one question about Wikipedia."""

from app.qt import QDialog, QDialogButtonBox, QLabel, QMessageBox, QPlainTextEdit, Qt, QVBoxLayout
from learner.settings import Settings

WIKIPEDIA_QUESTION = (
    "grokling can also learn about what you talk about by reading Wikipedia articles on it.\n\n"
    "To do so it sends the names of topics to Wikipedia as searches: only topics you approve or add "
    "yourself (Learning ▸ Learning panel ▸ Topics), never your messages. Nothing is sent until you say yes.\n\n"
    "Read Wikipedia about the topics you approve?")


class _TextDialog(QDialog):
    def __init__(self, title: str, explanation: str, text: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(560, 360)
        self.editor = QPlainTextEdit(text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        label = QLabel(explanation)
        label.setWordWrap(True)
        layout.addWidget(label)
        layout.addWidget(self.editor, 1)
        layout.addWidget(buttons)
        self.editor.setFocus()


class CorrectionDialog(_TextDialog):
    def __init__(self, reply: str, parent=None):
        super().__init__(
            "Correct this reply",
            "Write what grokling should have answered. It is saved with this reply and "
            "used the next time grokling learns.",
            reply,
            parent,
        )

    def correction(self) -> str:
        return self.editor.toPlainText()


class SystemPromptDialog(_TextDialog):
    def __init__(self, current: str | None, default: str, parent=None):
        super().__init__(
            "System prompt",
            "Instructions the model reads before this conversation. Leave empty for the default:\n" + default,
            current or "",
            parent,
        )

    def prompt(self) -> str | None:
        return self.editor.toPlainText().strip() or None


def welcome_text(settings: Settings) -> str:
    """What a new user needs to know: the feedback under each reply and what learning does with it."""
    when = {"after_corrections": f"after {settings.learn_after_corrections} new corrections",
            "daily": f"daily at {settings.learn_daily_at}", "manual": "when you choose Learning > Learn now"}
    return (
        "<h3>Welcome to grokling</h3>"
        "<p>grokling answers with a small model that runs entirely on this computer, and it learns from you.</p>"
        "<ul>"
        "<li><b>▲ Good</b> and <b>▼ Bad</b> under a reply say which answers to keep "
        "(Alt+Up and Alt+Down rate the last reply).</li>"
        "<li><b>✎ Correct this…</b> (F2) lets you write what it should have said. A correction is remembered "
        "at once: the next question about it, in any chat, is answered from it.</li>"
        "<li><b>Learning</b> happens in the background, "
        f"{when[settings.learn_schedule]}, once you have left the window alone for a few minutes: grokling "
        "trains a new version of its model on your corrections and thumbs-up, checks that it learned them "
        "without forgetting what it knew, and only then swaps it in. The <b>Learning</b> menu shows what it is "
        "doing and pauses it.</li>"
        "</ul>"
        "<p>Your chats stay on this computer; only Wikipedia is asked about the topics you keep asking about "
        "(Preferences > Wikipedia turns that off). Edit > Preferences… (Ctrl+,) changes how grokling answers and "
        "learns; Help > Welcome shows this again.</p>"
    )


def welcome_box(settings: Settings, parent=None) -> QMessageBox:
    box = QMessageBox(QMessageBox.Icon.Information, "Welcome to grokling", welcome_text(settings), parent=parent)
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    return box


def wikipedia_consent_box(parent=None) -> QMessageBox:
    """Yes / Not now, asked once: not modal, so the user can chat first and answer later."""
    box = QMessageBox(QMessageBox.Icon.Question, "Read Wikipedia about your topics?", WIKIPEDIA_QUESTION, parent=parent)
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    box.button(QMessageBox.StandardButton.No).setText("Not now")
    box.setDefaultButton(QMessageBox.StandardButton.No)
    box.setWindowModality(Qt.WindowModality.NonModal)
    return box
