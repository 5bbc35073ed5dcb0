"""A deleted chat is deleted: from the database file, its backups, and every training file made of it."""

import sqlite3
from pathlib import Path

import pytest

from conftest import version_record
from learner import paths, userdata, versions
from learner.models import embedded
from learner.chat.served import embedded_gguf
from learner.items import ItemResult
from learner.learning import collect, cycle, dataset, topics
from learner.settings import Settings
from learner.store import Store
from learner.store.migrations import migrate

SECRET = "quixotic marmalade"
"""Two words no other text here shares a prefix with: the search index stores words prefix-compressed."""
KEPT = "Tokyo is the capital of Japan."


def chat(store: Store, question: str, correction: str) -> int:
    conversation = store.new_conversation()
    store.add_user_message(conversation, question)
    store.correct(store.add_assistant_message(conversation, "I do not know."), correction)
    return conversation


def files_holding(home: Path, text: str) -> list[str]:
    """The files holding `text` or any of its words."""
    words = [w.lower().encode() for w in text.split()]
    return sorted(str(f.relative_to(home)) for f in home.rglob("*")
                  if f.is_file() and any(w in f.read_bytes().lower() for w in words))


def learn(store: Store, tmp_path: Path, count_tokens) -> versions.Version:
    """What a cycle leaves behind: its run folder, a dataset folder, a live version with the rows and results."""
    run = paths.data_dir() / "runs" / "20260101-000000"
    topics.mine(store)
    curriculum = collect.run(store, run / "collect", Settings(), [], None)
    dataset_dir, dataset_meta = dataset.run(list(curriculum.items), [], Settings(), paths.data_dir() / "datasets",
                                          count_tokens)
    (tmp_path / "adapter").mkdir()
    record = version_record(results=tuple(ItemResult(item, item.answer, True) for item in curriculum.items),
                            dataset_sha256=dataset_meta["sha256"])
    return embedded().lineage.promote(embedded_gguf(), tmp_path / "adapter", dataset_dir, record, 3)


def test_a_deleted_chat_is_gone_from_the_database_files(store, grokling_home):
    forgotten = chat(store, f"Is the password {SECRET.title()}?", f"The password is {SECRET} forever.")
    chat(store, "What is the capital of Japan?", KEPT)

    store.delete_conversation(forgotten)

    assert store.search("marmalade") == [] and store.search("Japan")
    assert files_holding(grokling_home, SECRET) == []
    assert store.db.execute("PRAGMA secure_delete").fetchone()[0] == 1


def test_a_deleted_chat_is_gone_from_the_migration_backups(grokling_home):
    old = sqlite3.connect(paths.db_path(), isolation_level=None)
    migrate(old, paths.db_path(), upto="m008_learning_verdicts")
    old.execute("INSERT INTO conversations (id, title, created_at, updated_at) VALUES (1, 'old', 'x', 'x')")
    old.execute(f"INSERT INTO messages (conversation_id, role, content, created_at) VALUES (1, 'user', '{SECRET}', 'x')")
    old.close()
    with Store() as store:  # migrates, backing the old file up first
        assert list(grokling_home.glob("grokling.db.before-*.bak"))
        userdata.forget_conversation(store, 1, Settings())
    assert files_holding(grokling_home, SECRET) == []


def test_a_deleted_chat_is_gone_from_every_training_file(store, grokling_home, tmp_path, count_tokens):
    forgotten = chat(store, f"Is the password {SECRET.title()}?", f"The password is {SECRET} forever.")
    chat(store, "What is the capital of Japan?", KEPT)
    dataset = learn(store, tmp_path, count_tokens).meta["dataset_sha256"][:16]
    [dropped] = [i for i in collect.preview(store, Settings()).all_items() if i.source.conversation_id == forgotten]
    collect.drop(store, dropped)  # the user's drop keeps the item's text in the database
    assert [f for f in files_holding(grokling_home, SECRET) if "/" in f] == [
        f"datasets/{dataset}/items.jsonl", f"datasets/{dataset}/train.jsonl", "runs/20260101-000000/collect/curriculum.jsonl",
        "versions/v1/meta.json", "versions/v1/train.jsonl"]
    assert "quixotic marmalade" in {t.key for t in topics.listing(store)}

    userdata.forget_conversation(store, forgotten, Settings())

    assert files_holding(grokling_home, SECRET) == []
    kept = files_holding(grokling_home, "Tokyo")
    assert "versions/v1/train.jsonl" in kept and "versions/v1/meta.json" in kept
    assert [item.answer for item in (r.item for r in embedded().lineage.live_version().results)] == [KEPT]


def test_a_chat_deleted_while_a_cycle_runs_is_pruned_when_the_cycle_ends(store, grokling_home, tmp_path, monkeypatch, count_tokens):
    forgotten = chat(store, f"Is the password {SECRET.title()}?", f"The password is {SECRET} forever.")
    chat(store, "What is the capital of Japan?", KEPT)

    def a_cycle_the_user_deletes_the_chat_during(settings, store):
        version = learn(store, tmp_path, count_tokens)
        userdata.forget_conversation(store, forgotten, Settings())  # the window, meanwhile: the cycle holds the lock
        assert SECRET.encode() in (version.path / "train.jsonl").read_bytes()
        return cycle.CycleResult(cycle.PROMOTED, "v1 is live", version=version.name)

    monkeypatch.setattr(cycle, "_run", a_cycle_the_user_deletes_the_chat_during)
    assert cycle.run_cycle(Settings(), store).code == cycle.PROMOTED
    assert files_holding(grokling_home, SECRET) == [] and not paths.prune_marker().exists()


def test_a_cycle_during_which_no_chat_was_deleted_leaves_the_files_and_topics_alone(store, grokling_home, monkeypatch):
    pruned = []
    monkeypatch.setattr(userdata, "prune_derived", lambda store, settings: pruned.append(True))
    monkeypatch.setattr(cycle, "_run", lambda settings, store: cycle.CycleResult(cycle.NOTHING_TO_LEARN, "nothing new"))
    cycle.run_cycle(Settings(), store)
    assert pruned == []
    paths.prune_marker().touch()  # a deletion the last cycle could not prune for (it found the lock held)
    cycle.run_cycle(Settings(), store)
    assert pruned == [True] and not list(grokling_home.glob("prune-pending*"))

    def cut_short(store, settings):
        pruned.append(False)
        raise OSError("disk full")

    monkeypatch.setattr(userdata, "prune_derived", cut_short)
    paths.prune_marker().touch()
    with pytest.raises(OSError):
        cycle.run_cycle(Settings(), store)
    monkeypatch.setattr(userdata, "prune_derived", lambda store, settings: pruned.append(True))
    cycle.run_cycle(Settings(), store)  # the next cycle prunes what the last one did not finish
    assert pruned == [True, False, True] and not list(grokling_home.glob("prune-pending*"))
