"""The conversation store: conversations, messages, feedback and search in one SQLite file.

A user's message is committed before any reply is generated, and a stopped or failed
reply is kept with its status: nothing a user typed is lost. Feedback is append-only
history; the latest rating and the latest correction are what counts.

Threading: one connection shared by every thread, each public method holding the
store's lock (SQLite serialises writers anyway; this keeps one connection's state sane).
"""

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import sqlite_utils

from learner import paths
from learner.files import private_file
from learner.store.migrations import migrate
from learner.textclean import clean_message, clean_text

TITLE_LENGTH = 60


class NotFoundError(LookupError):
    """No conversation or message with that id."""


@dataclass(frozen=True)
class Conversation:
    id: int
    title: str
    system_prompt: str | None
    created_at: str
    updated_at: str
    learning_opt_out: int = 0
    source: str = "window"
    """Where it was had: "window", "cli" (grokling ask|correct) or "api" (another app, learner.api)."""


@dataclass(frozen=True)
class Message:
    id: int
    conversation_id: int
    role: str
    content: str
    status: str
    error: str | None
    model_version: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    first_token_ms: float | None
    duration_ms: float | None
    created_at: str
    rating: int = 0
    """The latest thumbs: 1 up, -1 down, 0 none."""
    correction: str | None = None
    """The latest correction the user wrote for this reply."""
    recalled: list[dict] | None = None
    """What instant memory gave the model for this reply (learner.chat.memory.Recalled.to_dict())."""

    @property
    def tokens_per_s(self) -> float | None:
        """Generation speed after the first token, the figure llama.cpp users compare."""
        if not self.completion_tokens or not self.duration_ms or self.first_token_ms is None:
            return None
        decode_ms = self.duration_ms - self.first_token_ms
        if self.completion_tokens < 2 or decode_ms <= 0:
            return None
        return (self.completion_tokens - 1) / (decode_ms / 1000)


@dataclass(frozen=True)
class SearchHit:
    conversation_id: int
    message_id: int
    snippet: str


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


_MESSAGE_COLUMNS = """
    m.id, m.conversation_id, m.role, m.content, m.status, m.error, m.model_version,
    m.prompt_tokens, m.completion_tokens, m.first_token_ms, m.duration_ms, m.created_at,
    mf.rating, mf.correction, m.recalled
"""
_MESSAGES = "messages m JOIN message_feedback mf ON mf.message_id = m.id"
"""Messages with their latest rating and correction (the view of migration m007)."""


class Store:
    def __init__(self, path: Path | str | None = None):
        """Open (creating and migrating as needed) the database; `":memory:"` for a scratch one."""
        if path == ":memory:":
            self.path = None
        else:
            self.path = private_file(Path(path) if path else paths.db_path())  # SQLite gives -wal and -shm its mode
        conn = sqlite3.connect(
            self.path or ":memory:", check_same_thread=False, isolation_level=None, timeout=30
        )
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA secure_delete = ON")  # a deleted chat's words are overwritten, not left in free pages
        if self.path:
            conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode can lose the last commits on power loss: a message the window
            # showed as stored would be gone. FULL costs one fsync per commit, a few a minute.
            conn.execute("PRAGMA synchronous = FULL")
        self._lock = threading.RLock()
        self.db = sqlite_utils.Database(conn)
        migrate(conn, self.path)

    def close(self) -> None:
        with self._lock:
            self.db.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """The database under the store's lock, in one IMMEDIATE transaction: all of it or none."""
        with self._lock:
            conn = self.db.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def query(self, sql: str, params: list | tuple = ()) -> list[dict]:
        """Rows of a read-only query, as dicts (for the learner's own tables)."""
        with self._lock:
            return list(self.db.query(sql, params))

    # -- conversations ---------------------------------------------------------------

    def new_conversation(self, title: str = "New chat", system_prompt: str | None = None, source: str = "window") -> int:
        with self._lock:
            stamp = now()
            return self.db["conversations"].insert(
                {"title": title, "system_prompt": system_prompt, "created_at": stamp, "updated_at": stamp,
                 "source": source}
            ).last_pk

    def conversation(self, conversation_id: int) -> Conversation:
        with self._lock:
            rows = list(self.db.query("SELECT * FROM conversations WHERE id = ?", [conversation_id]))
        if not rows:
            raise NotFoundError(f"no conversation {conversation_id}")
        return Conversation(**rows[0])

    def conversations(self, query: str = "") -> list[Conversation]:
        """Newest first; with a query, those whose title or any message matches it."""
        with self._lock:
            if not query.strip():
                rows = self.db.query("SELECT * FROM conversations ORDER BY updated_at DESC, id DESC")
            else:
                rows = self.db.query(
                    """SELECT * FROM conversations WHERE title LIKE :like ESCAPE '\\'
                       OR id IN (SELECT m.conversation_id FROM messages_fts
                                 JOIN messages m ON m.id = messages_fts.rowid
                                 WHERE messages_fts MATCH :match)
                       ORDER BY updated_at DESC, id DESC""",
                    {"like": f"%{_escape_like(query.strip())}%", "match": _fts_query(query)},
                )
            return [Conversation(**row) for row in rows]

    def conversation_summaries(self) -> list[dict]:
        """Newest first: {id, title, created_at, updated_at, source, messages (in the thread), learning (not opted out)}."""
        with self._lock:
            rows = self.db.query("""
                SELECT c.id, c.title, c.created_at, c.updated_at, c.source,
                       (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND m.superseded = 0) AS messages,
                       c.learning_opt_out = 0 AS learning
                FROM conversations c ORDER BY c.updated_at DESC, c.id DESC""")
            return [{**row, "learning": bool(row["learning"])} for row in rows]

    def rename_conversation(self, conversation_id: int, title: str) -> None:
        title = clean_text(title).strip().replace("\n", " ")
        if not title:
            raise ValueError("A conversation needs a title.")
        self._update_conversation(conversation_id, title=title)

    def set_system_prompt(self, conversation_id: int, system_prompt: str | None) -> None:
        prompt = clean_text(system_prompt).strip() if system_prompt else None
        self._update_conversation(conversation_id, system_prompt=prompt or None)

    def set_learning_opt_out(self, conversation_id: int, opt_out: bool) -> None:
        """Keep this conversation out of everything the learner reads (or let it back in)."""
        self._update_conversation(conversation_id, learning_opt_out=int(opt_out))

    def delete_conversation(self, conversation_id: int) -> None:
        """Delete the conversation, its messages and their feedback, leaving their words nowhere in the
        files: secure_delete zeroes what the rows used; the search indexes are merged into one segment,
        so the old segments holding the words go too; a checkpoint writes that over the database
        and empties the WAL, which held every page as it was written.

        Derived copies (training rows, backups) are learner.userdata.forget_conversation's."""
        with self._lock:
            self.conversation(conversation_id)
            with self.transaction() as db:
                db.execute("DELETE FROM conversations WHERE id = ?", [conversation_id])
                for index in ("messages_fts", "memory_fts"):  # instant memory indexes its corrections too
                    db.execute(f"INSERT INTO {index}({index}) VALUES ('optimize')")
            self.checkpoint()

    def checkpoint(self) -> None:
        """Write the WAL over the database and empty it: what was deleted leaves both files."""
        with self._lock:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def message_conversations(self) -> dict[int, int]:
        """Every message's id and its conversation's: what a file made of messages may still hold."""
        with self._lock:
            return {row["id"]: row["conversation_id"] for row in self.db.query("SELECT id, conversation_id FROM messages")}

    def _update_conversation(self, conversation_id: int, **values) -> None:
        with self._lock:
            self.conversation(conversation_id)
            self.db["conversations"].update(conversation_id, {**values, "updated_at": now()})

    # -- messages --------------------------------------------------------------------

    def add_user_message(self, conversation_id: int, text: str) -> int:
        """Store what the user typed (cleaned, refused if empty) and name a new chat after it."""
        content = clean_message(text)
        with self._lock:
            conversation = self.conversation(conversation_id)
            message_id = self._insert_message(conversation_id, "user", content)
            if conversation.title == "New chat":
                first_line = content.strip().splitlines()[0]
                title = first_line[:TITLE_LENGTH] + ("…" if len(first_line) > TITLE_LENGTH else "")
                self.db["conversations"].update(conversation_id, {"title": title})
            return message_id

    def add_assistant_message(
        self,
        conversation_id: int,
        content: str,
        *,
        status: str = "complete",
        error: str | None = None,
        model_version: str | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        first_token_ms: float | None = None,
        duration_ms: float | None = None,
        recalled: list[dict] | None = None,
    ) -> int:
        with self._lock:
            self.conversation(conversation_id)
            return self._insert_message(
                conversation_id, "assistant", content, status=status, error=error,
                model_version=model_version, prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens, first_token_ms=first_token_ms,
                duration_ms=duration_ms, recalled=json.dumps(recalled, ensure_ascii=False) if recalled else None,
            )

    def _insert_message(self, conversation_id: int, role: str, content: str, **fields) -> int:
        row = {"conversation_id": conversation_id, "role": role, "content": content,
               "created_at": now(), **fields}
        with self.transaction() as db:
            cursor = db.execute(
                f"INSERT INTO messages ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                list(row.values()),
            )
            db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", [row["created_at"], conversation_id])
        return cursor.lastrowid

    def message(self, message_id: int) -> Message:
        with self._lock:
            rows = list(self.db.query(f"SELECT {_MESSAGE_COLUMNS} FROM {_MESSAGES} WHERE m.id = ?", [message_id]))
        if not rows:
            raise NotFoundError(f"no message {message_id}")
        return _message(rows[0])

    def thread(self, conversation_id: int) -> list[Message]:
        """The conversation as it stands: its messages in order, less those replaced."""
        with self._lock:
            self.conversation(conversation_id)
            rows = self.db.query(
                f"""SELECT {_MESSAGE_COLUMNS} FROM {_MESSAGES}
                    WHERE m.conversation_id = ? AND m.superseded = 0 ORDER BY m.id""",
                [conversation_id],
            )
            return [_message(row) for row in rows]

    def supersede_from(self, message_id: int) -> None:
        """Take this message and every later one out of its thread (regenerate, edit-and-resend).

        They stay in the database with their feedback: a reply the user chose to regenerate
        is itself a signal for the learner.
        """
        with self._lock:
            message = self.message(message_id)
            self.db.execute(
                "UPDATE messages SET superseded = 1 WHERE conversation_id = ? AND id >= ?",
                [message.conversation_id, message_id],
            )

    def api_conversation_continued(self, system_prompt: str | None, thread: list[tuple[str, str]]) -> int | None:
        """The API conversation that a request repeating `thread` ((role, content) pairs, as stored) under
        `system_prompt` continues: a chat app sends the whole chat each turn, and each turn belongs in the
        one conversation. The most recent such conversation; None if there is none."""
        if not thread:
            return None
        with self._lock:
            rows = self.db.query(
                """SELECT c.id FROM conversations c
                   JOIN messages m ON m.id = (SELECT max(id) FROM messages
                                              WHERE conversation_id = c.id AND superseded = 0)
                   WHERE c.source = 'api' AND c.system_prompt IS ? AND m.role = ? AND m.content = ?
                   ORDER BY c.updated_at DESC, c.id DESC""",
                [system_prompt, *thread[-1]],
            )
            for row in rows:
                if [(m.role, m.content) for m in self.thread(row["id"])] == thread:
                    return row["id"]
        return None

    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Full-text search over every message, best match first."""
        if not query.strip():
            return []
        with self._lock:
            rows = self.db.query(
                """SELECT m.conversation_id, m.id AS message_id,
                          snippet(messages_fts, 0, '[', ']', '…', 12) AS snippet
                   FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid
                   WHERE messages_fts MATCH ? ORDER BY rank LIMIT ?""",
                [_fts_query(query), limit],
            )
            return [SearchHit(**row) for row in rows]

    # -- feedback --------------------------------------------------------------------

    def rate(self, message_id: int, rating: int) -> None:
        """Thumbs up (1), thumbs down (-1) or clear (0) an assistant reply."""
        if rating not in (-1, 0, 1):
            raise ValueError("rating must be 1, -1 or 0")
        self._add_feedback(message_id, rating=rating)

    def correct(self, message_id: int, correction: str) -> None:
        """Record what the reply should have said; the learner trains on it."""
        self._add_feedback(message_id, correction=clean_message(correction))

    def _add_feedback(self, message_id: int, **values) -> None:
        with self._lock:
            if self.message(message_id).role != "assistant":
                raise ValueError("feedback is for the assistant's replies")
            self.db["feedback"].insert({"message_id": message_id, "created_at": now(), **values})

    # -- export ----------------------------------------------------------------------

    def export_conversations(self) -> Iterator[dict]:
        """Each conversation as `export_conversation` has it, oldest first."""
        with self._lock:
            ids = [row["id"] for row in self.db.query("SELECT id FROM conversations ORDER BY id")]
        for conversation_id in ids:
            yield self.export_conversation(conversation_id)

    def export_conversation(self, conversation_id: int) -> dict:
        """The conversation in chat format (its own system prompt first, if it has one), each message with
        its time, and each reply with its status, model version and latest feedback (rating 1, -1 or 0;
        the correction or None)."""
        conversation = self.conversation(conversation_id)
        messages = []
        if conversation.system_prompt:
            messages.append({"role": "system", "content": conversation.system_prompt})
        for m in self.thread(conversation_id):
            item = {"role": m.role, "content": m.content, "created_at": m.created_at}
            if m.role == "assistant":
                item.update(status=m.status, model_version=m.model_version, rating=m.rating, correction=m.correction)
            messages.append(item)
        return {
            "id": conversation.id,
            "title": conversation.title,
            "created_at": conversation.created_at,
            "source": conversation.source,
            "messages": messages,
        }


def _message(row: dict) -> Message:
    return Message(**{**row, "recalled": json.loads(row["recalled"]) if row["recalled"] else None})


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _fts_query(query: str) -> str:
    """Each word as a quoted FTS5 string, so punctuation in what the user typed is not syntax."""
    words = clean_text(query).split()
    return " ".join('"' + w.replace('"', '""') + '"' for w in words) or '""'
