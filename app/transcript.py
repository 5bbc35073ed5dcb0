"""The conversation view: one QTextDocument holding one top-level table per entry (a message, the
message being sent, the reply streaming in), updated entry by entry.

`show_entries` compares the entries with those on screen and re-renders only those that
changed, in place, through a QTextCursor: while a reply streams only its own table is
replaced, so a selection elsewhere survives and a chat of thousands of messages stays
responsive. (Rebuilding the whole document every 50 ms took 1.5 s per update at 3,000
messages.) It knows nothing of messages: entries are values the caller compares, and `render`
turns one into the HTML of one top-level <table>.

Threading: UI thread only, like every widget.
"""

from collections.abc import Callable

from app.qt import QTextBrowser, QTextCursor, QTextFrame


class Transcript(QTextBrowser):
    def __init__(self, render: Callable[[object], str], parent=None):
        super().__init__(parent)
        self._render = render
        self._entries: list = []
        self._frames: list[QTextFrame] = []
        """The top-level table of each entry, in order (asking the document for them costs ms in a long chat)."""
        self.setOpenLinks(False)
        self.document().setUndoRedoEnabled(False)  # edits are the app's, never the user's to undo

    def entries(self) -> list:
        return list(self._entries)

    def show_entries(self, entries: list, reset: bool = False) -> None:
        """Show `entries`, re-rendering only those that differ from what is shown (all of them with `reset`:
        another chat, or new colours). Stays at the bottom if it was there."""
        bar = self.verticalScrollBar()
        at_bottom, position = bar.value() >= bar.maximum() - 4, bar.value()
        if reset or not self._entries:
            self.setHtml("".join(self._render(e) for e in entries))
            self._frames = self.document().rootFrame().childFrames()
        else:
            self._update(entries)
        self._entries = list(entries)
        bar.setValue(bar.maximum() if at_bottom or reset else position)

    def _update(self, entries: list) -> None:
        old, frames, document = self._entries, self._frames, self.document()
        view = self.textCursor()  # the user's selection, or where the keyboard acts
        kept = None  # (the replaced table's start, the view's anchor and position in it)
        replaced = []
        cursor = QTextCursor(document)
        cursor.beginEditBlock()
        for i in range(min(len(old), len(entries))):
            if old[i] is not entries[i] and old[i] != entries[i]:
                start = frames[i].firstPosition() - 1
                if start <= min(view.anchor(), view.position()) and max(view.anchor(), view.position()) <= frames[i].lastPosition():
                    kept = (start, view.anchor() - start, view.position() - start)
                self._select(cursor, frames[i], frames[i])
                cursor.insertHtml(self._render(entries[i]))
                replaced.append((i, start))
        if len(entries) < len(old):
            self._select(cursor, frames[len(entries)], frames[-1])
            cursor.removeSelectedText()
            del frames[len(entries):]
        elif len(entries) > len(old):
            cursor.setPosition(document.characterCount() - 1)
            cursor.insertHtml("".join(self._render(e) for e in entries[len(old):]))
        cursor.endEditBlock()
        # The document finds its new frames once the edit block has ended.
        for i, start in replaced:
            frames[i] = self._table_at(start + 1)
        if len(entries) > len(old):
            frames += document.rootFrame().childFrames()[len(frames):]
        if kept is not None:  # the view's cursor stays where it was in the entry re-rendered
            start, anchor, position = kept
            end = self._table_at(start + 1).lastPosition()
            view.setPosition(min(start + anchor, end))
            view.setPosition(min(start + position, end), QTextCursor.MoveMode.KeepAnchor)
            self.setTextCursor(view)

    @staticmethod
    def _select(cursor: QTextCursor, first: QTextFrame, last: QTextFrame) -> None:
        """Select from the start of `first` to the end of `last`, frame markers included."""
        cursor.setPosition(first.firstPosition() - 1)
        cursor.setPosition(last.lastPosition() + 1, QTextCursor.MoveMode.KeepAnchor)

    def _table_at(self, position: int) -> QTextFrame | None:
        """The top-level table (an entry's) holding the position, or None between them."""
        frame, root = self.document().frameAt(position), self.document().rootFrame()
        while frame is not None and frame != root and frame.parentFrame() != root:
            frame = frame.parentFrame()
        return None if frame is None or frame == root else frame

    def entry_at(self, position: int):
        """The entry whose table holds the document position, or None."""
        frame = self._table_at(position)
        return None if frame is None else self._entries[self._frames.index(frame)]
