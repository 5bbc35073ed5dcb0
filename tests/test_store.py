import sqlite3

import pytest

from learner import paths
from learner.store import NotFoundError, Store
from learner.textclean import EmptyMessageError, clean_text


def test_the_database_lives_in_grokling_home_in_wal_mode(store, grokling_home):
    assert store.path == grokling_home / "grokling.db" == paths.db_path()
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_commit_is_on_disk_before_it_returns(store):
    # WAL with synchronous=NORMAL may lose the last commits on power loss: a message the user
    # saw stored would be gone. FULL syncs the WAL at every commit.
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_messages_and_feedback_persist_across_reopening(store):
    cid = store.new_conversation()
    store.add_user_message(cid, "What is the capital of Japan?")
    reply = store.add_assistant_message(cid, "Kyoto.", model_version="base", completion_tokens=3)
    store.rate(reply, -1)
    store.correct(reply, "Tokyo.")
    store.close()

    again = Store()
    [question, answer] = again.thread(cid)
    assert (question.role, question.content) == ("user", "What is the capital of Japan?")
    assert (answer.content, answer.rating, answer.correction, answer.model_version) == ("Kyoto.", -1, "Tokyo.", "base")
    assert again.conversation(cid).title == "What is the capital of Japan?"


def test_latest_feedback_wins_and_history_is_kept(store):
    cid = store.new_conversation()
    reply = store.add_assistant_message(cid, "hi")
    store.rate(reply, 1)
    store.rate(reply, -1)
    assert store.message(reply).rating == -1
    store.rate(reply, 0)
    assert store.message(reply).rating == 0
    store.correct(reply, "first")
    store.correct(reply, "second")
    assert store.message(reply).correction == "second"
    assert store.db["feedback"].count == 5


def test_feedback_is_only_for_replies_and_needs_text(store):
    cid = store.new_conversation()
    question = store.add_user_message(cid, "hello")
    reply = store.add_assistant_message(cid, "hi")
    with pytest.raises(ValueError, match="assistant"):
        store.rate(question, 1)
    with pytest.raises(EmptyMessageError):
        store.correct(reply, "  \n ")
    with pytest.raises(ValueError):
        store.rate(reply, 5)
    assert store.db["feedback"].count == 0


def test_stopped_and_failed_replies_are_kept_with_their_status(store):
    cid = store.new_conversation()
    store.add_user_message(cid, "tell me a long story")
    store.add_assistant_message(cid, "Once upon", status="stopped")
    store.add_user_message(cid, "again")
    store.add_assistant_message(cid, "", status="error", error="context full")
    statuses = [(m.role, m.status, m.error) for m in store.thread(cid)]
    assert statuses == [
        ("user", "complete", None), ("assistant", "stopped", None),
        ("user", "complete", None), ("assistant", "error", "context full"),
    ]
    with pytest.raises(sqlite3.IntegrityError):
        store.add_assistant_message(cid, "x", status="bogus")


def test_superseded_messages_leave_the_thread_but_stay_stored(store):
    cid = store.new_conversation()
    first = store.add_user_message(cid, "one")
    store.add_assistant_message(cid, "1")
    second = store.add_user_message(cid, "two")
    store.add_assistant_message(cid, "2")
    store.supersede_from(second)
    assert [m.content for m in store.thread(cid)] == ["one", "1"]
    assert store.message(second).content == "two"
    assert store.db["messages"].count == 4
    assert first in [m.id for m in store.thread(cid)]


def test_search_matches_titles_and_message_text_and_tolerates_syntax(store):
    trip = store.new_conversation("Trip planning")
    store.add_user_message(trip, "Which train goes to Kyoto?")
    other = store.new_conversation("Recipes")
    store.add_user_message(other, "How long do I boil an egg?")
    assert [c.id for c in store.conversations("kyoto")] == [trip]
    assert [c.id for c in store.conversations("recipes")] == [other]
    assert [c.id for c in store.conversations("")] == [other, trip]
    assert store.conversations('egg" OR (') == []  # quotes and brackets are text, not FTS syntax
    assert store.conversations("100%_") == []
    [hit] = store.search("train")
    assert hit.conversation_id == trip and "[train]" in hit.snippet


def test_deleting_a_conversation_removes_its_messages_feedback_and_index(store):
    cid = store.new_conversation()
    store.add_user_message(cid, "platypus facts")
    reply = store.add_assistant_message(cid, "they lay eggs")
    store.rate(reply, 1)
    store.delete_conversation(cid)
    assert store.db["messages"].count == 0 and store.db["feedback"].count == 0
    assert store.search("platypus") == []
    with pytest.raises(NotFoundError):
        store.thread(cid)


def test_rename_and_system_prompt(store):
    cid = store.new_conversation()
    store.rename_conversation(cid, "  Japan\ntrip ")
    store.set_system_prompt(cid, "Answer in French.")
    c = store.conversation(cid)
    assert (c.title, c.system_prompt) == ("Japan trip", "Answer in French.")
    store.set_system_prompt(cid, "   ")
    assert store.conversation(cid).system_prompt is None
    with pytest.raises(ValueError):
        store.rename_conversation(cid, " ")


def test_bad_text_is_cleaned_not_lost(store):
    cid = store.new_conversation()
    typed = "caf\udce9 \x00bell\x07\r\nnext line\ttab"
    mid = store.add_user_message(cid, typed)
    assert store.message(mid).content == "caf\ufffd bell\nnext line\ttab"
    with pytest.raises(EmptyMessageError):
        store.add_user_message(cid, " \x00\x07 \n")
    assert clean_text("e\u0301") == "é"


def test_a_megabyte_paste_is_stored_whole(store):
    cid = store.new_conversation()
    paste = "log line with words\n" * 55_000
    mid = store.add_user_message(cid, paste)
    assert store.message(mid).content == paste
    assert store.conversation(cid).title == "log line with words"
