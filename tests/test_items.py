"""The curriculum: taught items, how an answer is judged, and which items a cycle teaches."""

import pytest

from learner import items
from learner.learning import dataset
from learner.items import ARTICLE, CORRECTION, Provenance, TaughtItem, from_other_side


def correction(question: str, answer: str, feedback_id: int) -> TaughtItem:
    return items.correction(question, answer, Provenance(CORRECTION, message_id=feedback_id, feedback_id=feedback_id))


def fact(question: str, answer: str, expect: tuple[str, ...]) -> TaughtItem:
    return TaughtItem(ARTICLE, question, answer, Provenance(ARTICLE, title="Vexaria", revision=3), (question,),
                      (f"Do you know: {question}",), expect)


def test_an_answer_counts_when_it_has_the_correction_s_key_terms():
    item = correction("Who founded Zorblax Labs?", "Mira Quell founded Zorblax Labs in 2041.", 1)
    assert item.expect == ("Mira", "Quell", "2041")  # what the question already says is not a key term
    assert item.answered_by("It was Mira Quell, in 2041.")
    assert item.answered_by("Mira Quell did.")  # two of three terms
    assert not item.answered_by("Zorblax Labs was founded by engineers in 2041.")
    assert items.is_right("The capital is Paris.", ["Paris"]) and not items.is_right("Lyon", ["Paris"])


@pytest.mark.parametrize("answer, term, said", [
    ("It was founded in 2041.", "2041", True), ("It was founded in 20411.", "2041", False),
    ("The capital is Canberra.", "Canberra", True), ("It is Sydney, not Canberra.", "Canberra", False),
    ("Canberra, never Sydney.", "Sydney", False), ("It isn't Perth but Canberra.", "Canberra", True),
    ("A Parisian café.", "Paris", False), ("mira  quell did", "Mira Quell", True), ("Mira Quellson did", "Mira Quell", False),
    ("About 18,400 people.", "18,400", True), ("It has 7 moons.", "7", True), ("It has 17 moons.", "7", False)])
def test_an_answer_says_a_term_as_whole_words_and_not_negated(answer, term, said):
    assert items.says(answer, term) is said


def test_a_correction_is_trained_in_rewordings_and_checked_in_others():
    item = correction("Who founded Zorblax Labs?", "Mira Quell founded Zorblax Labs.", 1)
    assert item.train[0] == "Who founded Zorblax Labs?" and "Quick question. Who founded Zorblax Labs?" in item.train
    assert {"Tell me about Zorblax Labs.", "What do you know about Mira Quell?"} <= set(item.about)  # each name
    assert item.held_out and set(item.held_out).isdisjoint(item.train + item.about)
    assert "Do you know who founded Zorblax Labs?" in item.held_out
    # From the other side: what Mira Quell did, which the question's rewordings never ask.
    assert "What did Mira Quell found?" in item.about and "What did Mira Quell found?" not in item.held_out
    assert item.statement == item.answer  # a whole sentence answers them as it stands
    assert "What did Mira Quell found?" in from_other_side(item) and "Tell me about Mira Quell." not in from_other_side(item)
    # where no question from the other side could be written, the questions about each name stand in
    plain = correction("What sport do the Caddon Vipers play?", "The Caddon Vipers play lacrosse.", 2)
    assert from_other_side(plain) == plain.about and plain.about


def test_a_correction_of_a_few_words_is_restated_for_the_questions_that_are_not_its_own():
    item = correction("Who founded Zorblax Labs?", "Mira Quell.", 1)
    assert item.statement == "Mira Quell founded Zorblax Labs."
    assert "What did Mira Quell found?" in item.about and "Tell me about Mira Quell." in item.about
    rows = dataset.item_rows(item, "Be brief.")
    answer_to = {r["prompt"][-1]["content"]: r["completion"][0]["content"] for r in rows}
    assert answer_to["Who founded Zorblax Labs?"] == "Mira Quell."  # the user's answer, as the user gave it
    assert answer_to["What did Mira Quell found?"] == answer_to["Tell me about Zorblax Labs."] == item.statement
    assert item.expect == ("Mira", "Quell")


def test_items_survive_their_json_round_trip(tmp_path):
    item = items.correction("What is my name?", "Your name is Ada.", Provenance(CORRECTION, 4, 2, 9, "2026-11-23T10:00:00+00:00"),
                            ({"role": "user", "content": "I am Ada."},))
    (tmp_path / "items.jsonl").write_text(items.dump([item]), encoding="utf-8")
    [back] = items.load(tmp_path / "items.jsonl")
    assert back == item and back.key == item.key
    assert items.load(tmp_path / "missing.jsonl") == []
    assert item.source.describe() == "your correction of 23 Nov"
    assert fact("Q?", "A.", ("A",)).source.describe() == 'the Wikipedia article "Vexaria", revision 3'


def test_selection_caps_new_corrections_and_the_watermark_never_hides_one_that_waits():
    taught = [correction(f"What is fact number {i}?", f"Fact {i} is Zorb{i}.", i + 1) for i in range(5)]
    thumbs_up = items.positive("Hi?", "Hello!", Provenance(items.POSITIVE, feedback_id=6))
    first = items.select([*taught, thumbs_up], [], set(), max_new_corrections=3)
    assert [i.question for i in first.items if i.kind == CORRECTION] == [f"What is fact number {i}?" for i in range(3)]
    assert len(first.waiting) == 2 and first.new == 4
    # A thumbs-up given after the waiting corrections must not move the watermark past them.
    assert first.watermark == 3
    second = items.select([*taught, thumbs_up], [], set(), max_new_corrections=3, after_feedback_id=first.watermark)
    assert not second.waiting and {i.question for i in second.items} >= {"What is fact number 3?", "What is fact number 4?"}
    assert second.new == 3  # the two that waited, and the thumbs-up after them
    third = items.select([*taught, thumbs_up], [], set(), max_new_corrections=3, after_feedback_id=second.watermark)
    assert third.new == 0 and len(third.items) == 6  # nothing new, everything still taught


def test_dropped_items_and_both_sides_of_a_conflict_are_left_out():
    mira = correction("Who founded Zorblax Labs?", "Mira Quell founded Zorblax Labs.", 1)
    oska = correction("who founded zorblax labs", "Oska Venn founded Zorblax Labs.", 2)
    capital = correction("What is the capital of Vexaria?", "Drennport.", 3)
    article = fact("What is the capital of Vexaria?", "The capital of Vexaria is Holm.", ("Holm",))
    agreeing = fact("Who founded Zorblax Labs?", "Zorblax Labs was founded by Mira Quell.", ("Mira", "Quell"))
    chosen = items.select([mira, oska, capital], [article], set(), max_new_corrections=20)
    assert chosen.items == () and len(chosen.conflicts) == 2
    assert {chosen.state(i) for i in (mira, oska, capital, article)} == {"conflict"}
    resolved = items.select([mira, oska, capital], [article, agreeing], {oska.key, article.key}, max_new_corrections=20)
    assert resolved.items == (mira, capital, agreeing) and resolved.conflicts == ()
    assert resolved.state(oska) == "dropped" and resolved.state(mira) == "train"
    assert set(resolved.all_items()) == {mira, oska, capital, article, agreeing}


def test_the_curriculum_hash_changes_with_what_is_taught_only():
    a, b = correction("Q one?", "Alpha.", 1), correction("Q two?", "Beta.", 2)
    first = items.select([a, b], [], set(), max_new_corrections=20)
    assert items.select([a, b], [], set(), max_new_corrections=20, after_feedback_id=2).sha256 == first.sha256
    assert items.select([a, b], [], {b.key}, max_new_corrections=20).sha256 != first.sha256


@pytest.mark.parametrize("right, total, threshold, reaches", [
    (35, 37, 0.95, False), (36, 37, 0.95, True), (19, 20, 0.95, True), (0, 0, 0.95, True), (4, 5, 0.8, True)])
def test_scores_compare_counts_not_rounded_shares(right, total, threshold, reaches):
    assert items.Score(right, total).reaches(threshold) is reaches


@pytest.mark.parametrize("other", ["Who founded Zorblax Labs？", "Who founded Zorblax Labs.", "Who founded\u200b Zorblax Labs?",
                                   "WHO FOUNDED ZORBLAX LABS", "Who  founded Zorblax Labs ?!"])
def test_a_question_asked_with_other_punctuation_width_or_invisible_characters_still_conflicts(other):
    mira = correction("Who founded Zorblax Labs?", "Mira Quell founded Zorblax Labs.", 1)
    oska = correction(other, "Oska Venn founded Zorblax Labs.", 2)
    assert len(items.conflicts([mira, oska])) == 1


def test_names_are_whole_and_without_a_possessive():
    assert items.names("Who leads the Brotherhood of the Amber Key?", "Grandmaster Ulric Fane leads it.") == [
        "Brotherhood of the Amber Key", "Grandmaster Ulric Fane"]
    assert items.names("What is Rafe Ondarro's job?", "Rafe Ondarro is a falconer in Tuppingham.") == [
        "Rafe Ondarro", "Tuppingham"]
    assert items.names("Which river runs between Lindrovia and Durvona?", "The Imbry.") == ["Lindrovia", "Durvona", "Imbry"]
    assert items.names("Yes, Mira Quell.") == ["Mira Quell"]  # an everyday first word is not part of a name
