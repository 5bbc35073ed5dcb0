"""The database schema as an append-only list of named migrations, applied on every open.

Never edit or reorder a migration that has shipped: add a new one. Each runs in its own
transaction together with the row that records it, so a crash leaves it either applied
and recorded or not applied at all. Before applying anything to a database that already
holds data, the file is copied aside with SQLite's backup API.
"""

import sqlite3
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from learner.files import private_file

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_conversations(conn: sqlite3.Connection) -> None:
    conn.execute("""
        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            system_prompt TEXT,  -- NULL: the settings' default system prompt
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""")
    conn.execute("""
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
            content TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'complete'
                CHECK (status IN ('complete', 'stopped', 'error')),
            error TEXT,
            model_version TEXT,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            first_token_ms REAL,
            duration_ms REAL,
            -- 1 once a regenerate or an edit replaced it: kept, but no longer in the thread
            superseded INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        )""")
    conn.execute("CREATE INDEX messages_by_conversation ON messages(conversation_id, id)")


@migration
def m002_feedback(conn: sqlite3.Connection) -> None:
    # One row per event, never updated: the latest rating and the latest correction win,
    # and the history stays for the learner.
    conn.execute("""
        CREATE TABLE feedback (
            id INTEGER PRIMARY KEY,
            message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            rating INTEGER CHECK (rating IN (-1, 0, 1)),  -- 0 clears an earlier rating
            correction TEXT,
            created_at TEXT NOT NULL,
            CHECK (rating IS NOT NULL OR correction IS NOT NULL)
        )""")
    conn.execute("CREATE INDEX feedback_by_message ON feedback(message_id, id)")


@migration
def m003_message_search(conn: sqlite3.Connection) -> None:
    conn.execute("""
        CREATE VIRTUAL TABLE messages_fts USING fts5(
            content, content='messages', content_rowid='id', tokenize='unicode61')""")
    conn.execute("INSERT INTO messages_fts(rowid, content) SELECT id, content FROM messages")
    conn.execute("""
        CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END""")
    conn.execute("""
        CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content)
                VALUES ('delete', old.id, old.content);
        END""")
    conn.execute("""
        CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content)
                VALUES ('delete', old.id, old.content);
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END""")


@migration
def m004_topics_and_articles(conn: sqlite3.Connection) -> None:
    # Mined counts are recomputed from the messages; status and the resolved article are the
    # user's and the resolver's, and survive re-mining.
    conn.execute("""
        CREATE TABLE topics (
            key TEXT PRIMARY KEY,  -- normalised name: lowercase, single spaces
            name TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'mined'
                CHECK (status IN ('mined', 'approved', 'blocked', 'added')),
            mentions INTEGER NOT NULL DEFAULT 0,
            bad_replies INTEGER NOT NULL DEFAULT 0,
            score REAL NOT NULL DEFAULT 0,
            first_seen TEXT,
            last_seen TEXT,
            example_message_ids TEXT NOT NULL DEFAULT '[]',
            article_title TEXT,  -- '' once searched and nothing suitable was found
            article_checked_at TEXT,
            updated_at TEXT NOT NULL
        )""")
    # One row per fetched revision: an unchanged article is never fetched again.
    conn.execute("""
        CREATE TABLE articles (
            id INTEGER PRIMARY KEY,
            language TEXT NOT NULL,
            title TEXT NOT NULL,
            revision INTEGER NOT NULL,
            url TEXT NOT NULL,
            lead TEXT NOT NULL,
            sections TEXT NOT NULL,  -- JSON [{"title", "level", "text"}]
            fetched_at TEXT NOT NULL,
            UNIQUE (language, title, revision)
        )""")



@migration
def m005_training_exclusions(conn: sqlite3.Connection) -> None:
    # Items the user dropped from the training data preview: never trained on until restored.
    conn.execute("""
        CREATE TABLE training_exclusions (
            key TEXT PRIMARY KEY,  -- learner.items.item_key(question, answer)
            question TEXT NOT NULL,
            answer TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""")


@migration
def m006_learning_opt_out(conn: sqlite3.Connection) -> None:
    # 1: the learner never reads this conversation (corrections, thumbs-up, topics).
    conn.execute("ALTER TABLE conversations ADD COLUMN learning_opt_out INTEGER NOT NULL DEFAULT 0")

@migration
def m007_message_feedback(conn: sqlite3.Connection) -> None:
    # "The latest feedback wins", written once: a reply's current rating and correction, and
    # its newest feedback row (the learner's watermark counts feedback rows). A plain view
    # over messages, so SQLite flattens it into each query and only looks up the rows asked for.
    conn.execute("""
        CREATE VIEW message_feedback AS
        SELECT m.id AS message_id,
          coalesce((SELECT rating FROM feedback f WHERE f.message_id = m.id AND rating IS NOT NULL
                    ORDER BY f.id DESC LIMIT 1), 0) AS rating,
          (SELECT correction FROM feedback f WHERE f.message_id = m.id AND correction IS NOT NULL
           ORDER BY f.id DESC LIMIT 1) AS correction,
          (SELECT max(created_at) FROM feedback f WHERE f.message_id = m.id) AS feedback_at,
          (SELECT max(id) FROM feedback f WHERE f.message_id = m.id) AS feedback_id
        FROM messages m""")


@migration
def m008_learning_verdicts(conn: sqlite3.Connection) -> None:
    # What each cycle decided against the live version it started from (and each rollback):
    # the same curriculum is not retrained against the same version, and feedback up to
    # `watermark` no longer counts as new for it.
    conn.execute("""
        CREATE TABLE learning_verdicts (
            id INTEGER PRIMARY KEY,
            live_version TEXT NOT NULL,
            curriculum_sha256 TEXT,  -- NULL for a rollback
            watermark INTEGER,  -- the newest feedback row accounted for
            code INTEGER NOT NULL,  -- the cycle's exit status (learner.learning.cycle)
            reason TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""")
    conn.execute("CREATE INDEX learning_verdicts_by_version ON learning_verdicts(live_version, id)")


@migration
def m009_article_facts(conn: sqlite3.Connection) -> None:
    # The facts the knowledge stage made of a revision (JSON {"generator", "writer", "items"}):
    # the preview shows them without a network or a model, and a later cycle reuses them.
    conn.execute("ALTER TABLE articles ADD COLUMN facts TEXT")


@migration
def m010_memory(conn: sqlite3.Connection) -> None:
    # Instant memory: every correction, indexed the moment it is saved (a trigger, so the window,
    # the CLI and the API all feed it), and gone with its chat (ON DELETE CASCADE). A reply
    # corrected twice keeps its latest correction. `recalled` on a reply names what it used.
    conn.execute("""
        CREATE TABLE memory (
            id INTEGER PRIMARY KEY,
            message_id INTEGER NOT NULL UNIQUE REFERENCES messages(id) ON DELETE CASCADE,
            question TEXT NOT NULL,
            answer TEXT NOT NULL,
            feedback_id INTEGER NOT NULL,
            created_at TEXT NOT NULL
        )""")
    conn.execute("""
        CREATE VIRTUAL TABLE memory_fts USING fts5(
            question, answer, content='memory', content_rowid='id', tokenize='porter unicode61')""")
    conn.execute("""
        CREATE TRIGGER memory_fts_insert AFTER INSERT ON memory BEGIN
            INSERT INTO memory_fts(rowid, question, answer) VALUES (new.id, new.question, new.answer);
        END""")
    conn.execute("""
        CREATE TRIGGER memory_fts_delete AFTER DELETE ON memory BEGIN
            INSERT INTO memory_fts(memory_fts, rowid, question, answer) VALUES ('delete', old.id, old.question, old.answer);
        END""")
    conn.execute("""
        CREATE TRIGGER memory_fts_update AFTER UPDATE ON memory BEGIN
            INSERT INTO memory_fts(memory_fts, rowid, question, answer) VALUES ('delete', old.id, old.question, old.answer);
            INSERT INTO memory_fts(rowid, question, answer) VALUES (new.id, new.question, new.answer);
        END""")
    remember = """
        INSERT INTO memory (message_id, question, answer, feedback_id, created_at)
        SELECT f.message_id, q.content, f.correction, f.id, f.created_at
        FROM feedback f JOIN messages r ON r.id = f.message_id
        JOIN messages q ON q.id = (SELECT max(id) FROM messages WHERE conversation_id = r.conversation_id
                                   AND id < r.id AND role = 'user')
        WHERE {which}
        ON CONFLICT (message_id) DO UPDATE SET answer = excluded.answer, feedback_id = excluded.feedback_id,
                                               created_at = excluded.created_at"""
    conn.execute(f"""
        CREATE TRIGGER memory_on_correction AFTER INSERT ON feedback WHEN new.correction IS NOT NULL BEGIN
            {remember.format(which="f.id = new.id")};
        END""")
    conn.execute(remember.format(which="f.correction IS NOT NULL ORDER BY f.id"))  # what was taught before
    conn.execute("ALTER TABLE messages ADD COLUMN recalled TEXT")  # JSON: the taught items a reply was given


@migration
def m011_conversation_source(conn: sqlite3.Connection) -> None:
    # Where a conversation was had: the window, `grokling ask|correct`, or another app through the local
    # API (learner.api). Chats from before this migration say 'window', the command line's among them.
    conn.execute("""ALTER TABLE conversations ADD COLUMN source TEXT NOT NULL DEFAULT 'window'
                    CHECK (source IN ('window', 'cli', 'api'))""")


@migration
def m012_article_memory(conn: sqlite3.Connection) -> None:
    # The sentences of each article read, indexed for instant memory: a question about an article
    # is answered from the sentence that says it, in any chat. Gone with the article's row.
    conn.execute("""
        CREATE TABLE article_sentences (
            id INTEGER PRIMARY KEY,
            article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            section TEXT NOT NULL,
            sentence TEXT NOT NULL
        )""")
    conn.execute("CREATE INDEX article_sentences_by_article ON article_sentences(article_id)")
    conn.execute("""
        CREATE VIRTUAL TABLE article_sentences_fts USING fts5(
            sentence, content='article_sentences', content_rowid='id', tokenize='porter unicode61')""")
    conn.execute("""
        CREATE TRIGGER article_sentences_fts_insert AFTER INSERT ON article_sentences BEGIN
            INSERT INTO article_sentences_fts(rowid, sentence) VALUES (new.id, new.sentence);
        END""")
    conn.execute("""
        CREATE TRIGGER article_sentences_fts_delete AFTER DELETE ON article_sentences BEGIN
            INSERT INTO article_sentences_fts(article_sentences_fts, rowid, sentence) VALUES ('delete', old.id, old.sentence);
        END""")


@migration
def m013_verdicts_name_their_model(conn: sqlite3.Connection) -> None:
    # Each model has its own versions (learner.models), so a verdict names the model and the version it
    # judged against: "embedded/v3". The verdicts before models were all against the embedded model's.
    conn.execute("UPDATE learning_verdicts SET live_version = 'embedded/' || live_version "
                 "WHERE instr(live_version, '/') = 0")


BACKUP_SUFFIX = ".bak"


def backups(db_file: Path) -> list[Path]:
    """The copies `migrate` made of `db_file` before changing it."""
    return sorted(db_file.parent.glob(f"{db_file.name}.before-*{BACKUP_SUFFIX}"))


def applied(conn: sqlite3.Connection) -> list[str]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    return [row[0] for row in conn.execute("SELECT name FROM _migrations ORDER BY rowid")]


def migrate(conn: sqlite3.Connection, db_file: Path | None = None, upto: str | None = None) -> list[str]:
    """Apply every migration not yet recorded (or those up to and including `upto`).

    `conn` must be in autocommit mode (isolation_level=None) so that each migration's
    transaction is the one opened here. Returns the names applied.
    """
    done = set(applied(conn))
    pending = []
    for fn in MIGRATIONS:
        if fn.__name__ not in done:
            pending.append(fn)
        if fn.__name__ == upto:
            break
    if pending and done and db_file is not None:
        _backup(conn, db_file.with_name(f"{db_file.name}.before-{pending[0].__name__}{BACKUP_SUFFIX}"))
    done_here = []
    for fn in pending:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process opening the same new database may have applied it since `done` was read.
            if conn.execute("SELECT 1 FROM _migrations WHERE name = ?", (fn.__name__,)).fetchone() is None:
                fn(conn)
                conn.execute(
                    "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                    (fn.__name__, datetime.now(timezone.utc).isoformat()),
                )
                done_here.append(fn.__name__)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return done_here


def _backup(conn: sqlite3.Connection, target: Path) -> None:
    copy = sqlite3.connect(private_file(target))
    try:
        conn.backup(copy)
    finally:
        copy.close()
