"""Topic mining on a synthetic chat log in the real SQLite store, and `grokling topics`."""

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

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


LABELLED = [  # what a user writes, and the subjects in it worth reading an article about
    ("Yesterday I went to the market and visited my aunt.", set()),
    ("We ate pizza and then went home.", {"pizza"}),
    ("I want to eat something healthy tonight.", set()),
    ("Have you visited Kyoto? I went there in 2019.", {"kyoto"}),
    ("My sister recently started learning the violin.", {"violin"}),
    ("What do you know about the Hanseatic League?", {"hanseatic league"}),
    ("How do black holes evaporate?", {"black holes"}),
    ("Explain photosynthesis in simple terms please.", {"photosynthesis"}),
    ("I'm reading about the Byzantine Empire and its mosaics.", {"byzantine empire", "mosaics"}),
    ("Why did the Roman Republic fall?", {"roman republic"}),
    ("Is sourdough bread healthier than white bread?", {"sourdough bread", "white bread"}),
    ("Went running this morning, felt great.", set()),
    ("Can you recommend a good book about volcanoes?", {"volcanoes"}),
    ("My doctor says I might have diabetes.", {"diabetes"}),
    ("Dana Whitfield told me the meeting moved to Friday.", {"dana whitfield"}),
    ("How tall is Mount Kilimanjaro?", {"mount kilimanjaro"}),
    ("Tell me more about quantum entanglement.", {"quantum entanglement"}),
    ("We walked along the river and talked for hours.", set()),
    ("Who painted the Sistine Chapel ceiling?", {"sistine chapel"}),
    ("I cooked dinner and watched a movie.", set()),
    ("What are the rules of cricket?", {"cricket"}),
    ("Visited the Louvre and saw the Mona Lisa!", {"louvre", "mona lisa"}),
    ("Is it true that octopuses have three hearts?", {"octopuses", "three hearts"}),
    ("I finished reading it and loved it.", set()),
    ("Did the Apollo program use Saturn V rockets?", {"apollo program", "saturn v rockets"}),
    ("Thinking about getting a sourdough starter going.", {"sourdough starter"}),
    ("Played chess with my dad, he won again.", {"chess"}),
    ("How does the immune system fight viruses?", {"immune system", "viruses"}),
    ("Honestly I just slept all day.", set()),
    ("What caused the Great Fire of London?", {"great fire of london"}),
]


def test_candidates_are_subjects_not_verbs_or_everyday_words():
    found = [(set(topics.candidates(text)), want) for text, want in LABELLED]
    right = sum(len(got & want) for got, want in found)
    precision = right / sum(len(got) for got, _ in found)
    recall = right / sum(len(want) for _, want in found)
    # Measured: 0.96 and 0.93; the filter before (stopwords only) had 0.33 and 0.79, wordfreq alone 0.67 and 0.76.
    assert precision >= 0.9 and recall >= 0.9, (precision, recall)
    verbs = {"went", "visited", "eat", "ate", "walked", "talked", "cooked", "watched", "played", "slept", "painted"}
    assert not any(verbs & set(key.split()) for got, _ in found for key in got)


def test_a_sentence_start_is_no_name_unless_it_could_be_one():
    assert topics.candidates("Went to Paris last week, visited the Louvre.") == {"paris": "Paris", "louvre": "Louvre"}
    assert topics.candidates("Photosynthesis is fascinating.") == {"photosynthesis": "Photosynthesis"}
    assert topics.candidates("Music is great. Recently I enjoyed it.") == {}  # everyday words, a verb, an adverb
    assert topics.candidates("Is Mira Quell famous?") == {"mira quell": "Mira Quell"}


@pytest.mark.parametrize("name, flag", [
    ("Dana Whitfield", topics.PERSON), ("dana whitfield", topics.PERSON), ("Priya Sharma", topics.PERSON),
    ("Barack Obama", topics.PERSON), ("Mira Quell", topics.PERSON),
    ("diabetes", topics.HEALTH), ("type 2 diabetes", topics.HEALTH), ("hepatitis", topics.HEALTH),
    ("osteoporosis", topics.HEALTH), ("my chemotherapy", topics.HEALTH),
    ("Zorblax Labs", None), ("Quorvath Ridge", None), ("Byzantine mosaics", None), ("photosynthesis", None),
    ("black holes", None), ("New York", None), ("sourdough bread", None),
])
def test_names_of_people_and_health_matters_are_flagged(name, flag):
    assert topics.flag(name) == flag


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
    # A person's name waits for approval even then, however strong.
    assert mira.flag == topics.PERSON and "looks like a person's name: read about only if you approve it" in mira.why()
    assert [t.name for t in topics.to_learn(store, auto)] == ["Vexaria system", "Byzantine mosaics"]

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
