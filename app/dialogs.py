"""Small dialogs the window opens: a reply's correction, a conversation's system prompt, and the
one question about Wikipedia."""

from app.qt import QDialog, QDialogButtonBox, QLabel, QMessageBox, QPlainTextEdit, Qt, QVBoxLayout

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


def wikipedia_consent_box(parent=None) -> QMessageBox:
    """Yes / Not now, asked once: not modal, so the user can chat first and answer later."""
    box = QMessageBox(QMessageBox.Icon.Question, "Read Wikipedia about your topics?", WIKIPEDIA_QUESTION, parent=parent)
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    box.button(QMessageBox.StandardButton.No).setText("Not now")
    box.setDefaultButton(QMessageBox.StandardButton.No)
    box.setWindowModality(Qt.WindowModality.NonModal)
    return box
