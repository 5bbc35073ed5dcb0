"""Small editors the window opens: a reply's correction and a conversation's system prompt."""

from app.qt import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout


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
