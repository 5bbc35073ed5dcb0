"""The conversation sidebar: New chat, search, the list of chats and each chat's context menu.

It reads conversations from the store (millisecond SQLite reads) and says what the user
asked for through signals; the window decides what that means (open, rename, delete…).
"""

from app.qt import QLineEdit, QListWidget, QListWidgetItem, QMenu, QPushButton, Qt, QVBoxLayout, QWidget, Signal
from learner.store import Store


class ConversationSidebar(QWidget):
    selected = Signal(int)
    new_requested = Signal()
    rename_requested = Signal(int)
    system_prompt_requested = Signal(int)
    delete_requested = Signal(int)
    learning_toggled = Signal(int, bool)
    """A conversation id and whether the learner may read it."""

    def __init__(self, store: Store, parent=None):
        super().__init__(parent)
        self.store = store
        self.current_id: int | None = None
        new_button = QPushButton("New chat")
        new_button.setAccessibleName("New chat")
        new_button.clicked.connect(self.new_requested)
        self.search = QLineEdit(placeholderText="Search chats")
        self.search.setAccessibleName("Search chats")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda _: self.refresh())
        self.list = QListWidget()
        self.list.setAccessibleName("Conversations")
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.currentItemChanged.connect(self._on_current)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        layout = QVBoxLayout(self)
        layout.addWidget(new_button)
        layout.addWidget(self.search)
        layout.addWidget(self.list)

    def refresh(self, select_id: int | None = None) -> None:
        """Re-read the list (filtered by the search), keeping `select_id` (or the current chat) selected."""
        select_id = select_id if select_id is not None else self.current_id
        self.list.blockSignals(True)
        self.list.clear()
        for c in self.store.conversations(self.search.text()):
            item = QListWidgetItem(c.title)
            item.setData(Qt.ItemDataRole.UserRole, c.id)
            item.setToolTip(c.title)
            self.list.addItem(item)
            if c.id == select_id:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self.current_id = select_id

    def ids(self) -> list[int]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]

    def _on_current(self, item: QListWidgetItem | None, _previous=None) -> None:
        if item is not None:
            self.current_id = item.data(Qt.ItemDataRole.UserRole)
            self.selected.emit(self.current_id)

    def _menu(self, position) -> None:
        item = self.list.itemAt(position)
        if item is None:
            return
        conversation_id = item.data(Qt.ItemDataRole.UserRole)
        menu = QMenu(self)
        menu.addAction("Rename…", lambda: self.rename_requested.emit(conversation_id))
        menu.addAction("System prompt…", lambda: self.system_prompt_requested.emit(conversation_id))
        learn = menu.addAction("Learn from this chat")
        learn.setCheckable(True)
        learn.setChecked(not self.store.conversation(conversation_id).learning_opt_out)
        learn.toggled.connect(lambda on: self.learning_toggled.emit(conversation_id, on))
        menu.addAction("Delete…", lambda: self.delete_requested.emit(conversation_id))
        menu.exec(self.list.mapToGlobal(position))
