"""The Wikipedia client and the knowledge stage against a fake MediaWiki over real HTTP on loopback."""

import time

import pytest
from fake_mediawiki import FakeMediaWikiServer, FakeWiki

from learner import items
from learner.learning import knowledge, topics
from learner.settings import Settings
from learner.learning.wiki import USER_AGENT, WikiClient, WikiError

ZORBLAX = """Zorblax Labs is a research company on the planet Vexaria that builds gravity engines.[1] It was founded in 2041 by Mira Quell.

== History ==
Zorblax Labs was founded in 2041 in a disused grain silo.[2] In 2047 the company launched the Quell drive, a teal gravity engine.

== References ==
1. A source."""


@pytest.fixture
def wiki():
    fake = FakeWiki()
    fake.add("Zorblax Labs", ZORBLAX, revision=7)
    fake.add("Zorblax", "Zorblax may refer to:\nZorblax Labs, a company\nZorblax (game)", disambiguation=True)
    fake.redirects["Zorblax Laboratories"] = "Zorblax Labs"
    with FakeMediaWikiServer(fake) as server:
        yield fake, server


READING = Settings(wikipedia_consent=True)
"""The user agreed to Wikipedia searches."""


def client(server, **kwargs) -> WikiClient:
    return WikiClient(server.api_url, **{"min_interval_s": 0.0, "retry_wait_s": 0.05, "timeout_s": 2.0, **kwargs})


def test_one_search_request_resolves_past_a_disambiguation_page(wiki):
    fake, server = wiki
    c = client(server)
    assert c.resolve("zorblax") == ("Zorblax Labs", 7)  # "Zorblax", the disambiguation page, ranks first
    [search] = fake.requests
    assert search["params"]["generator"] == "search" and search["params"]["ppprop"] == "disambiguation"
    assert c.resolve("nothing like this") is None
    assert all(r["user_agent"].startswith(USER_AGENT) for r in fake.requests)
    c.close()


def test_disambiguation_comes_from_page_properties_in_any_language(wiki):
    fake, server = wiki
    # German Wikipedia: no "(disambiguation)" in the title, no English category, only the page property.
    fake.add("Quell", "Quell steht für:\nQuell (Band), eine Band\nQuell (Fluss), ein Fluss", disambiguation=True)
    fake.add("Quell (Band)", "Quell ist eine Band aus Drennport, gegründet 2041.", revision=3)
    assert client(server).resolve("Quell") == ("Quell (Band)", 3)


def test_revisions_of_many_titles_in_one_request_following_redirects(wiki):
    fake, server = wiki
    for i in range(60):
        fake.add(f"Subject {i}", f"Subject {i} is a subject.", revision=100 + i)
    titles = ["Zorblax Laboratories", "zorblax_Labs", "No Such Page"] + [f"Subject {i}" for i in range(60)]
    found = client(server).revisions(titles)
    assert found["Zorblax Laboratories"] == found["zorblax_Labs"] == ("Zorblax Labs", 7)
    assert found["No Such Page"] is None and found["Subject 59"] == ("Subject 59", 159)
    assert len(fake.requests) == 2  # 63 titles: the API takes 50 a request


def test_fetch_is_one_request_with_sections_revision_and_url(wiki):
    fake, server = wiki
    article = client(server).fetch("Zorblax Laboratories")
    assert (article.title, article.revision) == ("Zorblax Labs", 7) and article.url.endswith("/Zorblax_Labs")
    assert article.lead.startswith("Zorblax Labs is a research company")
    assert [(s["title"], s["level"]) for s in article.sections] == [("History", 1), ("References", 1)]
    assert article.sections[0]["text"].startswith("Zorblax Labs was founded in 2041")
    assert len(fake.requests) == 1
    with pytest.raises(WikiError, match="no article 'No Such Page'"):
        client(server).fetch("No Such Page")


def test_retries_429_honouring_retry_after_and_5xx(wiki):
    fake, server = wiki
    fake.failures["Zorblax Labs"] = [429, 503]
    fake.retry_after = 1
    started = time.monotonic()
    assert client(server).revisions(["Zorblax Labs"]) == {"Zorblax Labs": ("Zorblax Labs", 7)}
    assert time.monotonic() - started >= 1.0  # waited as Retry-After asked
    assert len([r for r in fake.requests if r["params"].get("titles") == "Zorblax Labs"]) == 3


def test_malformed_json_timeouts_and_long_retry_after_fail_cleanly(wiki):
    fake, server = wiki
    fake.malformed.add("Zorblax Labs")
    with pytest.raises(WikiError, match="Zorblax Labs"):
        client(server).fetch("Zorblax Labs")
    fake.malformed.clear()
    fake.stall_s["Zorblax Labs"] = 1.5
    started = time.monotonic()
    with pytest.raises(WikiError):
        client(server, timeout_s=0.3, max_retries=1).fetch("Zorblax Labs")
    assert time.monotonic() - started < 1.5
    fake.stall_s.clear()
    fake.failures["Zorblax Labs"] = [429]
    fake.retry_after = 3600  # a server asking for an hour does not stall the cycle for one
    started = time.monotonic()
    with pytest.raises(WikiError):
        client(server).revisions(["Zorblax Labs"])
    assert time.monotonic() - started < 5


def test_rate_limit_spaces_requests(wiki):
    fake, server = wiki
    c = client(server, min_interval_s=0.2)
    for _ in range(4):
        c.resolve("zorblax")
    times = [r["time"] for r in fake.requests]
    assert min(b - a for a, b in zip(times, times[1:])) >= 0.19


def test_gather_fetches_a_revision_once_and_a_changed_one_again(wiki, store):
    fake, server = wiki
    topics.set_status(store, "Zorblax Labs", "added")
    topics.set_status(store, "Quux Nonexistent", "added")
    c = client(server)
    chosen = topics.to_learn(store, READING)
    found, failures = knowledge.gather(store, c, chosen)
    assert [(t.name, a.title, a.revision) for t, a in found] == [("Zorblax Labs", "Zorblax Labs", 7)]
    assert failures == [{"topic": "Quux Nonexistent", "reason": "no article found"}]
    assert len(fake.requests) == 3  # two searches, one fetch

    def extracts():
        return sum("extracts" in r["params"].get("prop", "") for r in fake.requests)

    fake.requests.clear()
    knowledge.gather(store, c, topics.to_learn(store, READING))
    assert len(fake.requests) == 1 and extracts() == 0  # unchanged revision: served from the database
    fake.pages["Zorblax Labs"].revision = 8
    found, _ = knowledge.gather(store, c, topics.to_learn(store, READING))
    assert extracts() == 1 and found[0][1].revision == 8
    assert [r["revision"] for r in store.query("SELECT revision FROM articles ORDER BY revision")] == [7, 8]


def test_requests_per_cycle_do_not_grow_with_search_hits(wiki, store):
    fake, server = wiki
    for i in range(3):
        fake.add(f"Zorblax {i}", f"Zorblax {i} is another meaning.", disambiguation=True)
        fake.add(f"Vexaria {i}", f"Vexaria {i} is a moon of the planet Vexaria. " * 20, revision=10 + i)
        topics.set_status(store, f"Vexaria {i}", "added")
    c = client(server)
    found, failures = knowledge.gather(store, c, topics.to_learn(store, Settings(wikipedia_consent=True, topics_per_cycle=5)))
    assert len(found) == 3 and failures == []
    assert len(fake.requests) == 3 + 3  # one search and one fetch per topic, however many hits each search has
    fake.requests.clear()
    knowledge.gather(store, c, topics.to_learn(store, Settings(wikipedia_consent=True, topics_per_cycle=5)))
    assert len(fake.requests) == 1  # the next cycle: one request checks every article's revision


def test_a_failing_article_never_fails_the_stage(wiki, store, tmp_path):
    fake, server = wiki
    fake.malformed.add("Zorblax Labs")
    topics.set_status(store, "Zorblax Labs", "added")
    meta = knowledge.run(store, client(server), tmp_path / "knowledge", READING)
    assert meta["facts"] == 0 and "Zorblax Labs" in meta["failures"][0]["reason"]
    fake.malformed.clear()
    meta = knowledge.run(store, client(server), tmp_path / "knowledge", READING)
    assert meta["articles"][0]["title"] == "Zorblax Labs" and meta["facts"] >= 3
    rows = items.load(tmp_path / "knowledge" / items.FACTS_FILE)
    assert {r.source.revision for r in rows} == {7}
    assert any(r.question == "Who founded Zorblax Labs?" and r.expect == ("Mira", "Quell") for r in rows)


def test_the_chat_model_adds_checked_questions_of_its_own(wiki, store, tmp_path):
    from learner.chat.served import embedded_model

    _, server = wiki
    topics.set_status(store, "Zorblax Labs", "added")
    templates = knowledge.run(store, client(server), tmp_path / "templates", READING)
    meta = knowledge.run(store, client(server), tmp_path / "written", READING, embedded_model())
    assert meta["writer"] == embedded_model().version and meta["written"] + meta["written_rejected"] > 0
    rows = items.load(tmp_path / "written" / items.FACTS_FILE)
    templated = items.load(tmp_path / "templates" / items.FACTS_FILE)
    assert rows[:templates["facts"]] == templated  # templates first, unchanged
    # Which of the model's pairs pass depends on its greedy wording on this CPU; those that do follow the templates'.
    added = rows[templates["facts"]:]
    assert len(added) == min(meta["written"], Settings().facts_per_article - templates["facts"])
    assert all(r.source.writer == "model" and r.answered_by(r.answer) for r in added)
    again = knowledge.run(store, client(server), tmp_path / "again", READING, embedded_model())
    assert again["written"] + again["written_rejected"] == 0  # this revision's facts come from the cache
    assert items.load(tmp_path / "again" / items.FACTS_FILE) == rows

def test_no_request_leaves_before_the_user_agrees(wiki, store, tmp_path):
    fake, server = wiki
    topics.set_status(store, "Zorblax Labs", "added")
    meta = knowledge.run(store, client(server), tmp_path / "knowledge", Settings())
    assert fake.requests == [] and meta["facts"] == 0 and meta["topics"] == []
    assert meta["note"] == knowledge.CONSENT_NEEDED and "grokling topics --consent yes" in meta["note"]
    assert items.load(tmp_path / "knowledge" / items.FACTS_FILE) == []
    meta = knowledge.run(store, client(server), tmp_path / "knowledge", READING)
    assert meta["topics"] == ["Zorblax Labs"] and meta["facts"] >= 3 and meta["note"] is None


def test_mined_topics_wait_for_approval_and_blocked_ones_are_never_searched(wiki, store, tmp_path):
    fake, server = wiki
    conversation = store.new_conversation()
    for question in ("What is Zorblax Labs?", "Who runs Zorblax Labs?", "Is Zorblax Labs big?"):
        store.add_user_message(conversation, question)
    meta = knowledge.run(store, client(server), tmp_path / "knowledge", READING)
    assert fake.requests == [] and meta["note"] == knowledge.NOTHING_APPROVED  # mined, not approved
    auto = Settings(wikipedia_consent=True, auto_approve_topics=True)
    topics.set_status(store, "Zorblax Labs", "blocked")
    meta = knowledge.run(store, client(server), tmp_path / "knowledge", auto)
    assert fake.requests == [] and meta["topics"] == []
    topics.set_status(store, "Zorblax Labs", "approved")
    meta = knowledge.run(store, client(server), tmp_path / "knowledge", READING)
    assert meta["articles"][0]["title"] == "Zorblax Labs" and fake.requests


def test_names_and_health_matters_are_never_searched_without_approval(wiki, store, tmp_path):
    fake, server = wiki
    conversation = store.new_conversation()
    for _ in range(3):
        store.add_user_message(conversation, "Dana Whitfield says my diabetes is worse. What is Zorblax Labs?")
    auto = Settings(wikipedia_consent=True, auto_approve_topics=True, topics_per_cycle=5)
    meta = knowledge.run(store, client(server), tmp_path / "knowledge", auto)
    assert meta["topics"] == ["Zorblax Labs"]
    searched = [r["params"]["gsrsearch"] for r in fake.requests if "gsrsearch" in r["params"]]
    assert searched == ["Zorblax Labs"]
    flags = {t.name: t.flag for t in topics.listing(store)}
    assert flags["Dana Whitfield"] == topics.PERSON and flags["diabetes"] == topics.HEALTH
