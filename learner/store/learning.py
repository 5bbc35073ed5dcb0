"""What the learner reads and writes in the database: taught feedback, the user's drops, topics,
the article cache and the cycle's verdicts. All of its SQL is here.

"Latest feedback wins" is the `message_feedback` view (migration m007): every query about a
reply's rating or correction goes through it.
"""

import json

from learner.store import Store, now

# -- taught feedback ------------------------------------------------------------------------

CONTEXT_MESSAGES = 2
"""Earlier messages kept before the question, so a reply that depended on them still makes sense."""


def taught_replies(store: Store) -> list[dict]:
    """Replies with feedback in conversations the user lets the learner read, oldest first:
    {message_id, conversation_id, reply, correction, rating, feedback_at, feedback_id,
    question, context}. Replies whose question cannot be found (a broken thread) are left out."""
    rows = store.query("""
        SELECT mf.message_id, m.conversation_id, m.content AS reply, mf.correction, mf.rating,
               mf.feedback_at, mf.feedback_id
        FROM message_feedback mf JOIN messages m ON m.id = mf.message_id
        JOIN conversations c ON c.id = m.conversation_id
        WHERE mf.message_id IN (SELECT message_id FROM feedback)
          AND m.role = 'assistant' AND c.learning_opt_out = 0
        ORDER BY mf.message_id""")
    found = []
    for row in rows:
        asked = _question_of(store, row["conversation_id"], row["message_id"])
        if asked is not None:
            found.append({**row, "context": asked[0], "question": asked[1]})
    return found


def _question_of(store: Store, conversation_id: int, message_id: int) -> tuple[list[dict], str] | None:
    """The earlier messages and the question that the reply `message_id` answered."""
    rows = store.query(
        """SELECT role, content FROM messages WHERE conversation_id = ? AND id < ?
           AND (superseded = 0 OR id = (SELECT max(id) FROM messages WHERE conversation_id = ? AND id < ?))
           ORDER BY id DESC LIMIT ?""", [conversation_id, message_id, conversation_id, message_id, CONTEXT_MESSAGES + 1])
    rows.reverse()
    if not rows or rows[-1]["role"] != "user":
        return None
    return [{"role": r["role"], "content": r["content"]} for r in rows[:-1] if r["content"]], rows[-1]["content"]


def new_corrections(store: Store, after_feedback_id: int | None) -> int:
    """Corrections whose latest feedback came after the watermark, in conversations the learner may read."""
    return store.query("""
        SELECT count(*) AS n FROM message_feedback mf JOIN messages m ON m.id = mf.message_id
        JOIN conversations c ON c.id = m.conversation_id
        WHERE mf.message_id IN (SELECT message_id FROM feedback WHERE id > ?)
          AND mf.correction IS NOT NULL AND c.learning_opt_out = 0""", [after_feedback_id or 0])[0]["n"]


def last_feedback_id(store: Store) -> int | None:
    return store.query("SELECT max(id) AS id FROM feedback")[0]["id"]


def memory_candidates(store: Store, match: str, limit: int) -> list[dict]:
    """The corrections best matching an FTS5 query (BM25), from chats the learner may read:
    {message_id, conversation_id, question, answer, feedback_id, created_at}."""
    return store.query("""
        SELECT m.message_id, r.conversation_id, m.question, m.answer, m.feedback_id, m.created_at
        FROM memory_fts JOIN memory m ON m.id = memory_fts.rowid
        JOIN messages r ON r.id = m.message_id JOIN conversations c ON c.id = r.conversation_id
        WHERE memory_fts MATCH ? AND c.learning_opt_out = 0
        ORDER BY bm25(memory_fts) LIMIT ?""", [match, limit])


# -- the user's drops -----------------------------------------------------------------------

def dropped_keys(store: Store) -> set[str]:
    return {r["key"] for r in store.query("SELECT key FROM training_exclusions")}


def drop(store: Store, key: str, question: str, answer: str) -> None:
    with store.transaction() as db:
        db.execute("""INSERT OR IGNORE INTO training_exclusions (key, question, answer, created_at)
                      VALUES (?, ?, ?, ?)""", [key, question, answer, now()])


def restore(store: Store, key: str) -> None:
    with store.transaction() as db:
        db.execute("DELETE FROM training_exclusions WHERE key = ?", [key])


# -- verdicts -------------------------------------------------------------------------------

def record_verdict(store: Store, live_version: str, code: int, reason: str, watermark: int | None,
                   curriculum_sha256: str | None = None) -> None:
    """What a cycle (or a rollback) decided against `live_version`, and the feedback it accounted for."""
    with store.transaction() as db:
        db.execute("""INSERT INTO learning_verdicts (live_version, curriculum_sha256, watermark, code, reason, created_at)
                      VALUES (?, ?, ?, ?, ?, ?)""", [live_version, curriculum_sha256, watermark, code, reason, now()])


def verdict_for(store: Store, live_version: str, curriculum_sha256: str) -> dict | None:
    """The latest verdict on exactly this curriculum against this live version, if it was judged."""
    rows = store.query("""SELECT * FROM learning_verdicts WHERE live_version = ? AND curriculum_sha256 = ?
                          ORDER BY id DESC LIMIT 1""", [live_version, curriculum_sha256])
    return rows[0] if rows else None


def judged_watermark(store: Store, live_version: str) -> int | None:
    """The newest feedback already judged against `live_version` (a gated-out cycle, a rollback to it)."""
    return store.query("SELECT max(watermark) AS w FROM learning_verdicts WHERE live_version = ?",
                       [live_version])[0]["w"]


# -- topics ---------------------------------------------------------------------------------

def user_messages_for_topics(store: Store, include_chats: bool) -> list[dict]:
    """The user's own messages (never the assistant's) with how the reply to each went:
    {id, content, created_at, reply, rating, corrected}."""
    return store.query("""
        SELECT u.id, u.content, u.created_at, r.content AS reply, coalesce(mf.rating, 0) AS rating,
               mf.correction IS NOT NULL AS corrected
        FROM messages u
        LEFT JOIN messages r ON r.id = (SELECT min(id) FROM messages
                                        WHERE conversation_id = u.conversation_id AND id > u.id AND role = 'assistant')
        LEFT JOIN message_feedback mf ON mf.message_id = r.id
        JOIN conversations c ON c.id = u.conversation_id
        WHERE u.role = 'user' AND c.learning_opt_out = 0 AND ?
        ORDER BY u.id""", [int(include_chats)])


def save_topic_counts(store: Store, counts: list[dict]) -> None:
    """Replace every topic's mined counts with `counts` ({key, name, mentions, bad_replies, score,
    first_seen, last_seen, example_message_ids}); the user's statuses and resolved articles stay."""
    stamp = now()
    with store.transaction() as db:
        db.execute("UPDATE topics SET mentions = 0, bad_replies = 0, score = 0, updated_at = ?", [stamp])
        for c in counts:
            db.execute("""
                INSERT INTO topics (key, name, mentions, bad_replies, score, first_seen, last_seen,
                                    example_message_ids, updated_at)
                VALUES (:key, :name, :mentions, :bad_replies, :score, :first_seen, :last_seen, :examples, :stamp)
                ON CONFLICT (key) DO UPDATE SET name = excluded.name, mentions = excluded.mentions,
                  bad_replies = excluded.bad_replies, score = excluded.score, first_seen = excluded.first_seen,
                  last_seen = excluded.last_seen, example_message_ids = excluded.example_message_ids,
                  updated_at = excluded.updated_at""",
                       {**c, "examples": json.dumps(c["example_message_ids"]), "stamp": stamp})
        db.execute("DELETE FROM topics WHERE mentions = 0 AND status = 'mined'")


def topic_rows(store: Store, limit: int) -> list[dict]:
    """The user's added and approved topics, then the mined ones by score; blocked ones last."""
    return store.query("""
        SELECT * FROM topics ORDER BY status = 'blocked', status IN ('added', 'approved') DESC, score DESC, key
        LIMIT ?""", [limit])


def topics_to_learn(store: Store, min_mentions: int, with_mined: bool) -> list[dict]:
    """The user's own picks, then (`with_mined`) the strongest mined topics with enough mentions."""
    return store.query("""
        SELECT * FROM topics
        WHERE status IN ('added', 'approved') OR (? AND status = 'mined' AND mentions >= ?)
        ORDER BY status IN ('added', 'approved') DESC, score DESC, key""", [int(with_mined), min_mentions])


def topic_row(store: Store, key: str) -> dict | None:
    rows = store.query("SELECT * FROM topics WHERE key = ?", [key])
    return rows[0] if rows else None


def add_topic(store: Store, key: str, name: str) -> None:
    with store.transaction() as db:
        db.execute("""
            INSERT INTO topics (key, name, status, updated_at) VALUES (?, ?, 'added', ?)
            ON CONFLICT (key) DO UPDATE SET status = 'added', updated_at = excluded.updated_at""", [key, name, now()])


def set_topic_status(store: Store, key: str, status: str) -> bool:
    """Whether a topic with that key existed to change."""
    with store.transaction() as db:
        return db.execute("UPDATE topics SET status = ?, updated_at = ? WHERE key = ?", [status, now(), key]).rowcount > 0


def set_topic_article(store: Store, key: str, title: str) -> None:
    """Remember the article a topic resolved to ('' for none), so it is not searched for again."""
    with store.transaction() as db:
        db.execute("UPDATE topics SET article_title = ?, article_checked_at = ? WHERE key = ?", [title, now(), key])


# -- the article cache ----------------------------------------------------------------------

def article_row(store: Store, language: str, title: str, revision: int | None = None) -> dict | None:
    """The stored article at `revision`, or its newest stored revision."""
    rows = store.query("""SELECT * FROM articles WHERE language = ? AND title = ? AND revision = coalesce(?, revision)
                          ORDER BY revision DESC LIMIT 1""", [language, title, revision])
    return rows[0] if rows else None


def save_article(store: Store, language: str, title: str, revision: int, url: str, lead: str,
                 sections: list[dict]) -> None:
    with store.transaction() as db:
        db.execute("""INSERT OR IGNORE INTO articles (language, title, revision, url, lead, sections, fetched_at)
                      VALUES (?, ?, ?, ?, ?, ?, ?)""",
                   [language, title, revision, url, lead, json.dumps(sections, ensure_ascii=False), now()])


def save_article_sentences(store: Store, language: str, title: str, revision: int,
                           sentences: list[tuple[str, str]]) -> None:
    """What instant memory may answer from: the (section, sentence) pairs of this revision, replacing
    those of the article's earlier revisions."""
    with store.transaction() as db:
        db.execute("""DELETE FROM article_sentences WHERE article_id IN
                      (SELECT id FROM articles WHERE language = ? AND title = ?)""", [language, title])
        article = db.execute("SELECT id FROM articles WHERE language = ? AND title = ? AND revision = ?",
                             [language, title, revision]).fetchone()
        db.conn.executemany("INSERT INTO article_sentences (article_id, section, sentence) VALUES (?, ?, ?)",
                            [(article[0], section, sentence) for section, sentence in sentences])


def article_memory_candidates(store: Store, language: str, match: str, limit: int) -> list[dict]:
    """Sentences of the articles read on topics the user has not blocked, best matching an FTS5 query:
    {id (in article order), title, revision, url, section, sentence}."""
    return store.query("""
        SELECT s.id, a.title, a.revision, a.url, s.section, s.sentence
        FROM article_sentences_fts JOIN article_sentences s ON s.id = article_sentences_fts.rowid
        JOIN articles a ON a.id = s.article_id
        WHERE article_sentences_fts MATCH ? AND a.language = ?
          AND NOT EXISTS (SELECT 1 FROM topics t WHERE t.article_title = a.title AND t.status = 'blocked')
        ORDER BY bm25(article_sentences_fts) LIMIT ?""", [match, language, limit])


def save_article_facts(store: Store, language: str, title: str, revision: int, facts: dict) -> None:
    """Cache what the knowledge stage made of one revision ({"generator", "writer", "items"})."""
    with store.transaction() as db:
        db.execute("UPDATE articles SET facts = ? WHERE language = ? AND title = ? AND revision = ?",
                   [json.dumps(facts, ensure_ascii=False), language, title, revision])
