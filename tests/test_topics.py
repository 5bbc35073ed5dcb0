"""Topic mining on a synthetic chat log in the real SQLite store, and `grokling topics`."""

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from learner.learning import topics
from learner.settings import Settings

GROKLING = str(Path(sys.executable).with_name("grokling"))


def chat(store, question: str, reply: str, days_ago: float = 0, rating: int = 0, correction: str | None = None):
    conversation = store.new_conversation()
    user = store.add_user_message(conversation, question)
    answer = store.add_assistant_message(conversation, reply)
    stamp = (datetime.now(timezone.utc) - timedelta(days=days_ago)).isoformat()
    store.db.execute("UPDATE messages SET created_at = ? WHERE id = ?", [stamp, user])
    if rating:
        store.rate(answer, rating)
    if correction:
        store.correct(answer, correction)


def test_candidates_are_named_things_and_noun_phrases():
    found = topics.candidates("Tell me about Zorblax Labs. Who founded Zorblax Labs and what is the quell drive?")
    assert found == {"zorblax labs": "Zorblax Labs", "quell drive": "quell drive"}
    assert topics.candidates("Tell me about Byzantine mosaics") == {"byzantine mosaics": "Byzantine mosaics"}
    assert "green plants" in topics.candidates("How does photosynthesis work in green plants?")
    assert topics.candidates("Can you please explain it again? Thanks!") == {}


def test_mining_weighs_frequency_recency_and_bad_replies(store):
    for _ in range(3):
        chat(store, "What is the Vexaria system like?", "It is a star system.", days_ago=0)
    for _ in range(3):
        chat(store, "Tell me about Byzantine mosaics", "They are old.", days_ago=60)
    chat(store, "Who is Mira Quell?", "I don't know who that is.")
    chat(store, "Who is Mira Quell?", "She is a singer.", rating=-1)
    chat(store, "Is Mira Quell famous?", "Yes.", correction="Mira Quell founded Zorblax Labs.")
    chat(store, "hello", "Ask me about Drennport, the capital.")  # the assistant's words are never mined
    assert topics.mine(store) >= 3
    by_key = {t.key: t for t in topics.listing(store)}
    assert "drennport" not in by_key
    vexaria, mosaics, mira = by_key["vexaria system"], by_key["byzantine mosaics"], by_key["mira quell"]
    assert vexaria.mentions == mosaics.mentions == mira.mentions == 3
    assert vexaria.score > mosaics.score  # 60 days old: four half-lives
    assert mira.bad_replies == 3 and mira.score > vexaria.score  # every reply went badly: boosted
    assert "3 replies went badly" in mira.why()
    assert topics.to_learn(store, Settings()) == []  # mined topics wait for the user's approval
    auto = Settings(auto_approve_topics=True, topics_per_cycle=2)
    assert [t.name for t in topics.to_learn(store, auto)] == ["Mira Quell", "Vexaria system"]

    topics.set_status(store, "Mira Quell", "blocked")
    topics.set_status(store, "Byzantine mosaics", "approved")
    topics.mine(store)  # the user's choices survive re-mining
    assert [t.name for t in topics.to_learn(store, Settings())] == ["Byzantine mosaics"]
    assert [t.name for t in topics.to_learn(store, auto)] == ["Byzantine mosaics", "Vexaria system"]
    assert topics.listing(store)[-1].name == "Mira Quell"


def test_topics_cli(store, grokling_home):
    for _ in range(3):
        chat(store, "What is the Vexaria system like?", "I am not sure.")
    run = subprocess.run([GROKLING, "topics"], capture_output=True, text=True, check=True)
    assert "Vexaria system" in run.stdout and "went badly" in run.stdout
    assert "off until you agree: grokling topics --consent yes" in run.stdout and "wait for your approval" in run.stdout
    subprocess.run([GROKLING, "topics", "--add", "Quell drive"], check=True, capture_output=True)
    listed = json.loads(subprocess.run([GROKLING, "topics", "--json"], capture_output=True, text=True, check=True).stdout)
    assert not any(t["next_cycle"] for t in listed)  # nothing is read before the user agrees
    run = subprocess.run([GROKLING, "topics", "--consent", "yes"], capture_output=True, text=True, check=True)
    assert "Wikipedia reading: on" in run.stdout and Settings.load().wikipedia_consent
    subprocess.run([GROKLING, "topics", "--block", "vexaria system"], check=True, capture_output=True)
    listed = json.loads(subprocess.run([GROKLING, "topics", "--json"], capture_output=True, text=True, check=True).stdout)
    status = {t["name"]: (t["status"], t["next_cycle"]) for t in listed}
    assert status["Quell drive"] == ("added", True) and status["Vexaria system"] == ("blocked", False)
    subprocess.run([GROKLING, "topics", "--consent", "no"], check=True, capture_output=True)
    assert json.loads((grokling_home / "settings.json").read_text()) == {"wikipedia_consent": False}
    unknown = subprocess.run([GROKLING, "topics", "--approve", "nothing like this"], capture_output=True, text=True)
    assert unknown.returncode == 2 and "no topic" in unknown.stderr
