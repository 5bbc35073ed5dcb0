import sqlite3

import pytest

from learner.store import migrations
from learner.store.migrations import MIGRATIONS, migrate
from learner.store import Store

ALL = [fn.__name__ for fn in MIGRATIONS]


def columns(conn, table):
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def test_a_fresh_in_memory_database_gets_every_migration_in_order():
    conn = sqlite3.connect(":memory:", isolation_level=None)
    assert migrate(conn) == ALL
    assert [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY rowid")] == ALL
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                                          "AND name NOT LIKE '%_fts%'")}
    assert {t: columns(conn, t) for t in tables} == {
        "_migrations": {"name", "applied_at"},
        "conversations": {"id", "title", "system_prompt", "created_at", "updated_at", "learning_opt_out", "source"},
        "messages": {"id", "conversation_id", "role", "content", "status", "error", "model_version", "prompt_tokens",
                     "completion_tokens", "first_token_ms", "duration_ms", "superseded", "created_at", "recalled"},
        "feedback": {"id", "message_id", "rating", "correction", "created_at"},
        "message_feedback": {"message_id", "rating", "correction", "feedback_at", "feedback_id"},
        "topics": {"key", "name", "status", "mentions", "bad_replies", "score", "first_seen", "last_seen",
                   "example_message_ids", "article_title", "article_checked_at", "updated_at"},
        "articles": {"id", "language", "title", "revision", "url", "lead", "sections", "fetched_at", "facts"},
        "training_exclusions": {"key", "question", "answer", "created_at"},
        "memory": {"id", "message_id", "question", "answer", "feedback_id", "created_at"},
        "article_sentences": {"id", "article_id", "section", "sentence"},
        "learning_verdicts": {"id", "live_version", "curriculum_sha256", "watermark", "code", "reason", "created_at"},
    }
    assert migrate(conn) == []  # applied once only


def test_migration_names_are_unique_and_numbered():
    assert len(set(ALL)) == len(ALL)
    assert ALL == sorted(ALL) and all(name[0] == "m" and name[1:4].isdigit() for name in ALL)


def test_an_old_database_is_upgraded_keeping_its_data_and_a_backup(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, path, upto="m001_conversations")
    conn.execute("INSERT INTO conversations VALUES (1, 'Old chat', NULL, '2026-01-01', '2026-01-01')")
    conn.execute(
        "INSERT INTO messages (conversation_id, role, content, created_at)"
        " VALUES (1, 'user', 'remember the zeppelin', '2026-01-01')"
    )
    conn.close()

    store = Store(path)
    assert [m.content for m in store.thread(1)] == ["remember the zeppelin"]
    assert [h.message_id for h in store.search("zeppelin")] == [1]  # the search index covers old rows
    applied = [r["name"] for r in store.db.query("SELECT name FROM _migrations")]
    assert applied == ALL
    backup = tmp_path / "old.db.before-m002_feedback.bak"
    assert backup.exists()
    old = sqlite3.connect(backup)
    assert [r[0] for r in old.execute("SELECT name FROM _migrations")] == ["m001_conversations"]


def test_a_failing_migration_is_rolled_back_and_not_recorded(tmp_path, monkeypatch):
    path = tmp_path / "g.db"
    Store(path).close()

    def m999_broken(conn):
        conn.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(migrations, "MIGRATIONS", MIGRATIONS + [m999_broken])
    with pytest.raises(RuntimeError, match="disk on fire"):
        Store(path)
    conn = sqlite3.connect(path)
    assert "m999_broken" not in [r[0] for r in conn.execute("SELECT name FROM _migrations")]
    assert not conn.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'").fetchall()
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_verdicts_from_before_models_are_the_embedded_models(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, path, upto="m010_memory")
    for version in ("base", "v1", "v3"):
        conn.execute("INSERT INTO learning_verdicts (live_version, code, reason, created_at) VALUES (?, 4, 'x', 'now')",
                     [version])
    conn.close()
    store = Store(path)
    assert [r["live_version"] for r in store.query("SELECT live_version FROM learning_verdicts ORDER BY id")] == [
        "embedded/base", "embedded/v1", "embedded/v3"]
    store.close()
