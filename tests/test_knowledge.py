"""Articles into grounded facts, and facts into the cycle's dataset with their provenance."""

import json

import pytest

from learner import items
from learner.learning import collect, dataset, knowledge
from learner.learning.wiki import Article
from learner.settings import Settings

LEAD = ("Zorblax Labs (pronounced /ˈzɔːr.blæks/) is a research company on the planet Vexaria that builds gravity "
        "engines.[1] It was founded in 2041 by Mira Quell. The company is based in Drennport.")
SECTIONS = [
    {"title": "History", "level": 1, "text": "Zorblax Labs was founded in 2041 in a disused grain silo.[2] In 2047 "
     "the company launched the Quell drive, a teal gravity engine.{{citation needed}}"},
    {"title": "Products", "level": 1, "text": "The best-known product of Zorblax Labs is the Quell drive.\nQuell drive\nMark II"},
    {"title": "References", "level": 1, "text": "1. Mira Quell founded it in 1999, says a bad source."},
]


def article(lead=LEAD, sections=SECTIONS, title="Zorblax Labs") -> Article:
    return Article(title, 7, "https://wiki.test/wiki/Zorblax_Labs", "en", lead, sections)


def test_clean_strips_references_templates_and_pronunciations():
    text = knowledge.clean(LEAD + " {{Infobox|x}}\n== Stray heading ==\nMore.")
    assert "[1]" not in text and "pronounced" not in text and "{{" not in text and "==" not in text
    assert text.startswith("Zorblax Labs is a research company")


@pytest.mark.parametrize("text, expected", [
    ("J. R. R. Tolkien was an English writer and philologist. He wrote The Hobbit in the 1930s.",
     ["J. R. R. Tolkien was an English writer and philologist.", "He wrote The Hobbit in the 1930s."]),
    ("Dr. Mira Quell moved to St. Petersburg in 2041. The U.S. Army bought her first engine.",
     ["Dr. Mira Quell moved to St. Petersburg in 2041.", "The U.S. Army bought her first engine."]),
    ("The town had 3.5 million people in 2020. Its growth was about 1.2 per cent a year.",
     ["The town had 3.5 million people in 2020.", "Its growth was about 1.2 per cent a year."]),
    ('Quell called it "the quiet engine." Then she built a second one in Drennport.',
     ['Quell called it "the quiet engine."', "Then she built a second one in Drennport."]),
    ('"We will fly by 2050," Quell said in an interview. The engine was measured c. 1850 kg by surveyors.',
     ['"We will fly by 2050," Quell said in an interview.', "The engine was measured c. 1850 kg by surveyors."]),
    ("Gravity engines\nThe company builds gravity engines, e.g. the Quell drive, in Drennport.",
     ["The company builds gravity engines, e.g. the Quell drive, in Drennport."]),  # a caption line is dropped
])
def test_sentences_keep_initials_abbreviations_decimals_and_quotes(text, expected):
    assert knowledge.sentences(text) == expected


def test_a_pronoun_for_the_subject_becomes_its_name_and_one_for_something_else_keeps_its_context():
    thing = article(lead="Harrowmere is a group of islands in the Veil Sea. Its capital is the town of Harrowick. The archipelago "
                         "has about 31,000 people. He who rules it is elected.", title="Harrowmere Archipelago")
    assert knowledge.passages(thing)[0][1][1:] == [
        "Harrowmere Archipelago's capital is the town of Harrowick.", "Harrowmere Archipelago has about 31,000 people.",
        "He who rules it is elected."]  # an archipelago is no "he"
    person = article(lead="Tessaly Marr (born 1958) is an Osterlandic novelist and poet. She is best known for The "
                          "Hollow Lanterns, published in 1995. It has been translated into twenty-three languages.",
                     title="Tessaly Marr")
    assert [s for section, s in knowledge.memory_sentences(person) if not section][1:] == [
        "Tessaly Marr is best known for The Hollow Lanterns, published in 1995.",
        # "It" is the novel, not the novelist: the sentence before says so
        "Tessaly Marr is best known for The Hollow Lanterns, published in 1995. It has been translated into "
        "twenty-three languages."]


def test_facts_are_grounded_with_held_out_phrasings_and_provenance():
    facts = {f.question: f for f in knowledge.facts_from(article())}
    assert facts["What is Zorblax Labs?"].answer.startswith("Zorblax Labs is a research company")
    assert facts["Tell me about Zorblax Labs."].answer == (  # the lead, its pronouns named
        "Zorblax Labs is a research company on the planet Vexaria that builds gravity engines. Zorblax Labs was "
        "founded in 2041 by Mira Quell. Zorblax Labs is based in Drennport.")
    assert facts["Who founded Zorblax Labs?"].expect == ("Mira", "Quell")
    assert facts["When was Zorblax Labs founded?"].expect == ("2041",)
    assert facts["Where is Zorblax Labs located?"].answer == "Zorblax Labs is based in Drennport."
    assert "What happened with Zorblax Labs in 2047?" in facts
    for fact in facts.values():
        assert fact.source == items.Provenance("article", title="Zorblax Labs", revision=7,
                                               url="https://wiki.test/wiki/Zorblax_Labs", section=fact.source.section)
        assert set(fact.held_out).isdisjoint(fact.train) and fact.question in fact.train
        assert "1999" not in fact.answer  # nothing from the references section


def test_stubs_and_lists_give_no_facts():
    assert knowledge.facts_from(article(lead="Zorblax Labs is a company.", sections=[])) == []
    assert knowledge.facts_from(article(title="List of Vexarian companies")) == []


def test_facts_join_the_dataset_and_are_judged_by_their_own_terms(tmp_path, count_tokens):
    facts = knowledge.facts_from(article())
    replay = [{"question": "What is the capital of France?", "answer": "Paris.", "right": True}]
    out, _ = dataset.run(facts, replay, Settings(system_prompt="SYSTEM", replay_ratio=1.0), tmp_path,
                         count_tokens)
    rows = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    article_rows = [r for r in rows if r["source"]["kind"] == "article"]
    assert len(article_rows) == sum(len(f.train) for f in facts)
    assert all(r["prompt"][0] == {"role": "system", "content": "SYSTEM"} for r in rows)
    asked = {r["prompt"][-1]["content"] for r in rows}
    assert all(p not in asked for f in facts for p in f.held_out)  # held out of training
    founded = next(f for f in items.load(out / items.PROBES_FILE) if f.question == "Who founded Zorblax Labs?")
    assert founded.answered_by("It was founded by Mira Quell.")
    assert not founded.answered_by("It was founded by Elon Musk.")


def test_dropped_items_leave_the_curriculum_with_all_their_phrasings(store):
    conversation = store.new_conversation()
    store.add_user_message(conversation, "Who founded Zorblax Labs?")
    reply = store.add_assistant_message(conversation, "I don't know.")
    store.correct(reply, "Mira Quell founded Zorblax Labs in 2041.")
    settings = Settings(learn_from_wikipedia=False)
    [item] = collect.preview(store, settings).all_items()
    assert item.kind == "correction" and collect.preview(store, settings).state(item) == "train"
    collect.drop(store, item)
    preview = collect.preview(store, settings)
    assert preview.state(item) == "dropped" and preview.items == () and preview.new == 0
    collect.restore(store, item.key)
    assert collect.preview(store, settings).items == (item,)


PASSAGE = ["Zorblax Labs is a research company on the planet Vexaria that builds gravity engines.",
           "Zorblax Labs was founded in 2041 by Mira Quell."]


def test_written_pairs_are_parsed_and_checked_against_the_passage():
    from learner.learning import fact_writer

    reply = "Q1: Who founded Zorblax Labs?\nA1: Mira Quell\n\nQ: What does Zorblax Labs build?\nA: \"Gravity engines\"\nQ: oops"
    assert fact_writer.pairs(reply) == [("Who founded Zorblax Labs?", "Mira Quell"),
                                        ("What does Zorblax Labs build?", "Gravity engines")]
    check = fact_writer.check
    assert check("Who founded Zorblax Labs?", "Mira Quell", "Zorblax Labs", PASSAGE) == (PASSAGE[1], ["Mira", "Quell"])
    # The answer names the subject: the question may ask for it without naming it.
    assert check("Which company builds gravity engines on Vexaria?", "Zorblax Labs", "Zorblax Labs", PASSAGE)[0] == PASSAGE[0]
    assert check("Who founded Zorblax Labs?", "Oska Venn", "Zorblax Labs", PASSAGE) == "the answer is not in the passage"
    assert check("Who was the founder of it?", "Mira Quell", "Zorblax Labs", PASSAGE) == "names neither the subject nor asks for it"
    assert check("What is the answer about Zorblax Labs?", "Mira Quell", "Zorblax Labs", PASSAGE) == \
        "about the text, not the subject"
    assert check("Who is the CEO of Zorblax Labs today?", "Mira Quell", "Zorblax Labs", PASSAGE) == \
        "asks about what the passage does not say"
    assert check("Who founded Zorblax Labs in 2041?", "Zorblax Labs", "Zorblax Labs", PASSAGE) == \
        "the answer adds nothing to the question"
    assert check("Zorblax Labs founder", "Mira Quell", "Zorblax Labs", PASSAGE) == "not a question"


def test_the_embedded_model_writes_only_grounded_facts(embedded_engine):
    facts, rejected = knowledge.written_facts(article(), embedded_engine)
    sentences = {s for _, ss in knowledge.passages(article()) for s in ss}
    # The model wrote pairs and each was judged; which pass depends on its greedy wording on this CPU.
    assert len(facts) + len(rejected) >= 3
    assert all(r["reason"] for r in rejected)
    for fact in facts:
        assert fact.answer in sentences  # the trained answer is the article's own sentence
        assert all(t.lower() in fact.answer.lower() for t in fact.expect)
        assert fact.source.writer == "model" and fact.source.revision == 7
        assert set(fact.held_out).isdisjoint(fact.train)
    assert len({f.question.lower() for f in facts}) == len(facts)


def test_a_title_with_a_backslash_is_text_not_a_replacement_template():
    odd = article(title="Zorblax\\Labs", lead=LEAD.replace("Zorblax Labs", "Zorblax\\Labs"),
                  sections=[{**s, "text": s["text"].replace("Zorblax Labs", "Zorblax\\Labs")} for s in SECTIONS])
    facts = knowledge.facts_from(odd)
    assert facts and any(f.answer.startswith("Zorblax\\Labs was founded in 2041") for f in facts)


def test_a_lead_that_opens_with_initials_is_taught_whole():
    lead = ("J. R. R. Tolkien was an English writer and philologist. He was the author of The Hobbit and "
            "The Lord of the Rings. He was born in 1892 in Bloemfontein and studied at Exeter College, Oxford. "
            "From 1925 to 1945 he was a professor of Anglo-Saxon at the University of Oxford.")
    facts = {f.question: f for f in knowledge.facts_from(article(lead=lead, sections=[], title="J. R. R. Tolkien"))}
    assert facts["Who was J. R. R. Tolkien?"].answer == "J. R. R. Tolkien was an English writer and philologist."
