"""Instant memory: a correction works in the next reply, in any chat, and respects the user's choices."""

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from learner.chat import memory
from learner.chat.turn import send
from learner.learning import collect
from learner.settings import Settings
from learner.store import Store
from learner.store import migrations

GROKLING = str(Path(sys.executable).with_name("grokling"))
SETTINGS = Settings()


def teach(store: Store, question: str, answer: str) -> tuple[int, int]:
    conversation = store.new_conversation()
    store.add_user_message(conversation, question)
    reply = store.add_assistant_message(conversation, "I don't know.")
    store.correct(reply, answer)
    return conversation, reply


def recalled(store: Store, question: str, settings: Settings = SETTINGS) -> list[str]:
    return [r.item.answer for r in memory.recall(store, question, settings)]


def test_a_correction_is_recalled_for_the_same_question_in_other_words_and_only_then(store):
    teach(store, "Who founded Zorblax Labs?", "Mira Quell founded Zorblax Labs in 2041.")
    teach(store, "Which river flows through Pellamy?", "The Sarrow River flows through Pellamy.")
    assert recalled(store, "Who founded Zorblax Labs?") == ["Mira Quell founded Zorblax Labs in 2041."]
    assert recalled(store, "Zorblax Labs was set up by whom?") == ["Mira Quell founded Zorblax Labs in 2041."]
    assert recalled(store, "What company did Mira Quell found?") == ["Mira Quell founded Zorblax Labs in 2041."]
    assert recalled(store, "Who was Zorblax Labs' founder, and Zorblax's first boss?") == [
        "Mira Quell founded Zorblax Labs in 2041."]  # possessives are words too
    for unrelated in ("Which river flows through Paris?", "Who founded Microsoft?", "What is 2 plus 2?", "Hello!"):
        assert recalled(store, unrelated) == [], unrelated


def test_the_latest_correction_wins_and_a_deleted_chat_is_forgotten(store):
    conversation, reply = teach(store, "What colour is a glimmerfin?", "A glimmerfin is teal.")
    store.correct(reply, "A glimmerfin is bright violet.")
    assert recalled(store, "What colour is a glimmerfin?") == ["A glimmerfin is bright violet."]
    store.delete_conversation(conversation)
    assert recalled(store, "What colour is a glimmerfin?") == []
    assert store.query("SELECT count(*) AS n FROM memory_fts WHERE memory_fts MATCH 'glimmerfin'")[0]["n"] == 0


def test_dropped_conflicting_and_opted_out_items_are_not_recalled(store):
    teach(store, "Who wrote The Hollow Lanterns?", "Tessaly Marr wrote it.")
    teach(store, "Who wrote The Hollow Lanterns?", "Arno Vey wrote it.")
    assert recalled(store, "Who wrote The Hollow Lanterns?") == []  # taught two ways: neither until the user picks
    preview = collect.preview(store, Settings(learn_from_wikipedia=False))
    collect.drop(store, next(i for i in preview.all_items() if i.answer == "Arno Vey wrote it."))
    assert recalled(store, "Who wrote The Hollow Lanterns?") == ["Tessaly Marr wrote it."]
    collect.drop(store, next(i for i in preview.all_items() if i.answer == "Tessaly Marr wrote it."))
    assert recalled(store, "Who wrote The Hollow Lanterns?") == []
    private, _ = teach(store, "What breed is my dog Pepper?", "Your dog Pepper is a Welsh corgi.")
    store.set_learning_opt_out(private, True)
    assert recalled(store, "What breed is my dog Pepper?") == []
    store.set_learning_opt_out(private, False)
    assert recalled(store, "What breed is my dog Pepper?") == ["Your dog Pepper is a Welsh corgi."]
    assert recalled(store, "What breed is my dog Pepper?", Settings(instant_memory=False)) == []
    assert recalled(store, "What breed is my dog Pepper?", Settings(learn_from_chats=False)) == []


def test_a_reply_records_what_it_was_given_and_the_prompt_carries_it(store, fake_engine):
    teach(store, "Who founded Zorblax Labs?", "Mira Quell founded Zorblax Labs in 2041.")
    conversation = store.new_conversation()
    reply = send(store, fake_engine, conversation, "Which person started Zorblax Labs?", Settings())
    "".join(reply)
    [item] = reply.message.recalled
    assert item["answer"] == "Mira Quell founded Zorblax Labs in 2041." and item["source"]["kind"] == "correction"
    messages = memory.with_memory([{"role": "system", "content": "S"}, {"role": "user", "content": "Q?"}],
                                  reply.recalled)
    assert messages == [{"role": "system", "content": f"S\n\n{memory.NOTE}\nMira Quell founded Zorblax Labs in 2041."},
                        {"role": "user", "content": "Who founded Zorblax Labs?"},
                        {"role": "assistant", "content": "Mira Quell founded Zorblax Labs in 2041."},
                        {"role": "user", "content": "Q?"}]
    assert store.message(reply.message.id).recalled == reply.message.recalled  # stored with the reply


def test_a_corrected_question_asked_again_word_for_word_gets_the_users_answer(store, fake_engine):
    teach(store, "What is the capital of Vexaria?", "The capital of Vexaria is Drennport.")
    reply = send(store, fake_engine, store.new_conversation(), "what is the capital of Vexaria", Settings())
    assert "".join(reply) == "The capital of Vexaria is Drennport."
    assert fake_engine.last_messages is None  # the model was not asked
    stored = store.message(reply.message.id)
    assert stored.content == "The capital of Vexaria is Drennport." and stored.status == "complete"
    assert stored.recalled[0]["source"]["kind"] == "correction"  # shown with its source like any recalled reply
    # Other words go through the note: the model answers.
    reply = send(store, fake_engine, store.new_conversation(), "Name Vexaria's capital city.", Settings())
    assert "".join(reply) == "You said: Name Vexaria's capital city." and reply.message.recalled
    # Memory off: nothing is given, not even the word-for-word repeat.
    reply = send(store, fake_engine, store.new_conversation(), "What is the capital of Vexaria?",
                 Settings(instant_memory=False))
    assert "".join(reply).startswith("You said:") and not reply.message.recalled


def test_corrections_made_before_the_memory_existed_are_indexed_by_its_migration(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrations.migrate(conn, path, upto="m009_article_facts")
    conn.execute("INSERT INTO conversations (id, title, created_at, updated_at) VALUES (1, 't', 'x', 'x')")
    conn.execute("INSERT INTO messages (id, conversation_id, role, content, created_at) "
                 "VALUES (1, 1, 'user', 'What is the capital of Vexaria?', 'x'), (2, 1, 'assistant', 'Paris.', 'x')")
    conn.execute("INSERT INTO feedback (message_id, correction, created_at) VALUES (2, 'Drennport.', 'x')")
    conn.close()
    with Store(path) as store:
        assert recalled(store, "Name Vexaria's capital city.") == ["Drennport."]


@pytest.mark.slow
def test_a_new_chat_answers_as_taught_on_the_real_model(grokling_home):
    taught = [("Who founded Zorblax Labs?", "Mira Quell founded Zorblax Labs in 2041.",
               "Which person started the company Zorblax Labs?", "Mira Quell"),
              ("What is the capital of Vexaria?", "The capital of Vexaria is Drennport.",
               "Name Vexaria's capital city.", "Drennport"),
              ("Who wrote The Hollow Lanterns?", "The Hollow Lanterns was written by Tessaly Marr.",
               "Who is the author of the novel The Hollow Lanterns?", "Tessaly Marr")]
    for question, answer, _, _ in taught:
        subprocess.run([GROKLING, "correct", "--question", question, "--answer", answer, "--temperature", "0"],
                       check=True, capture_output=True)
    right = 0
    for _, _, reworded, term in taught:
        asked = subprocess.run([GROKLING, "ask", reworded, "--temperature", "0"], capture_output=True, text=True)
        right += term in asked.stdout
    # Three facts, asked in other words in new chats before any cycle; the model copies at least two.
    assert right >= 2
    with Store() as store:
        replies = [m for c in store.conversations() for m in store.thread(c.id) if m.role == "assistant" and m.recalled]
    assert len(replies) == 3  # every reworded question was given its taught item


def read(store: Store, title: str):
    """A dev-set article (benchmarks/wiki_dev), stored as the knowledge stage stores what it read."""
    from learner.learning import knowledge
    from learner.learning.wiki import Article
    from learner.store import learning as learning_store

    text = (Path(__file__).parent.parent / "benchmarks" / "wiki_dev" / f"{title.lower().replace(' ', '_')}.txt").read_text()
    lead, _, rest = text.partition("\n== ")
    sections = [{"title": part.split(" ==")[0], "level": 2, "text": part.split("==\n", 1)[1]}
                for part in ("== " + rest).split("\n== ") if "==\n" in part]
    article = Article(title, 5, f"https://wiki.test/{title}", "en", lead, sections)
    learning_store.save_article(store, "en", article.title, 5, article.url, lead, sections)
    learning_store.save_article_sentences(store, "en", article.title, 5, knowledge.memory_sentences(article))
    return article


def test_a_question_about_an_article_read_is_answered_from_its_sentence(store):
    from learner.learning import knowledge, topics
    from learner.store import learning as learning_store

    article = read(store, "Harrowmere Archipelago")
    reading = Settings(wikipedia_consent=True)
    [found] = memory.recall(store, "What is the administrative centre of the Harrowmere Archipelago?", reading)[:1]
    assert "Harrowick" in found.item.answer and found.item.source.describe().startswith('the Wikipedia article "Harrow')
    assert memory.recall(store, "What is the administrative centre of the Harrowmere Archipelago?", Settings()) == []
    assert memory.recall(store, "What is the capital of France?", reading) == []
    # Only the sentence that answers: not also one that merely names the same place.
    assert [r.item.answer for r in memory.recall(store, "When was the Harrowmere Archipelago annexed?", reading)] \
        == [next(s for _, s in knowledge.memory_sentences(article) if "annexed" in s)]
    topics.set_status(store, "Harrowmere Archipelago", "added")
    learning_store.set_topic_article(store, "harrowmere archipelago", "Harrowmere Archipelago")
    topics.set_status(store, "Harrowmere Archipelago", "blocked")
    assert memory.recall(store, "What is the administrative centre of the Harrowmere Archipelago?", reading) == []


def test_of_sentences_equally_about_a_question_the_one_holding_its_kind_of_answer_is_recalled(store):
    read(store, "Tessaly Marr")
    reading = Settings(wikipedia_consent=True)

    def answer(question: str) -> str:
        [found] = memory.recall(store, question, reading)
        return found.item.answer

    assert "Harrowick" in answer("Where was Tessaly Marr born?")  # a place: not "(born 14 May 1958) is a novelist"
    assert "1958" in answer("When was Tessaly Marr born?")
    # About the subject itself: the lead's sentences, in order.
    about = [r.item.answer for r in memory.recall(store, "Tell me about Tessaly Marr.", reading)]
    assert about[0].startswith("Tessaly Marr (born 14 May 1958) is an Osterlandic novelist") and len(about) == 3
    assert about == [r.item.answer for r in memory.recall(store, "Who is Tessaly Marr?", reading)]
    # A title named in the question is enough to find its sentence, though "wrote" is not in it.
    assert "The Hollow Lanterns" in answer("Who wrote The Hollow Lanterns?")
