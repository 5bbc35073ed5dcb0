"""Personal data never reaches training data; opted-out and deleted chats are never learned from."""

import pytest

from learner.learning import collect, topics
from learner.privacy import scrub
from learner.settings import Settings, SettingsError


@pytest.mark.parametrize("text, expected", [
    ("Mail jane.doe+news@example.co.uk today", "Mail [email] today"),
    ("Call +44 20 7946 0958 or (555) 123-4567 or 555 123 4567", "Call [phone number] or [phone number] or [phone number]"),
    ("Card 4111 1111 1111 1111, exp 12/29", "Card [card number], exp 12/29"),
    ("Not a card: 1234 5678 9012 3456", "Not a card: 1234 5678 9012 3456"),  # fails the Luhn check
    ("Founded on 12-05-2041, cost 12,500 in 1999; pi is 3.14159", "Founded on 12-05-2041, cost 12,500 in 1999; pi is 3.14159"),
])
def test_scrub(text, expected):
    assert scrub(text) == expected


def test_configured_patterns_and_bad_ones():
    assert scrub("Badge EMP-48213 here", ("EMP-\\d+",)) == "Badge [redacted] here"
    with pytest.raises(SettingsError, match="scrub_patterns"):
        Settings(scrub_patterns=["(unclosed"])


def teach(store, question, answer):
    conversation = store.new_conversation()
    store.add_user_message(conversation, question)
    store.correct(store.add_assistant_message(conversation, "I don't know."), answer)
    return conversation


def test_collected_examples_are_scrubbed_and_respect_opt_outs(store):
    kept = teach(store, "What is Mira's e-mail, mira@zorblax.example?", "Call Mira on +1 415 555 0100.")
    private = teach(store, "Who founded Zorblax Labs?", "Mira Quell, in 2041.")
    gone = teach(store, "What is the capital of Vexaria?", "Drennport.")
    store.set_learning_opt_out(private, True)
    store.delete_conversation(gone)
    [example] = collect.feedback_items(store, Settings())
    assert example.question == "What is Mira's e-mail, [email]?"
    assert example.answer == "Call Mira on [phone number]."
    assert "mira@zorblax.example" in store.thread(kept)[0].content  # the user's own record stays as typed
    assert collect.feedback_items(store, Settings(learn_from_chats=False)) == []
    store.set_learning_opt_out(private, False)
    assert len(collect.feedback_items(store, Settings())) == 2


def test_topics_skip_opted_out_chats_and_never_mine_personal_data(store):
    for _ in range(3):
        teach(store, "Tell me about Zorblax Labs, write to ceo@zorblax.example", "Sure.")
    hidden = [teach(store, "What is Quorvath Ridge?", "A ridge.") for _ in range(3)]
    for conversation in hidden:
        store.set_learning_opt_out(conversation, True)
    topics.mine(store)
    names = {t.name for t in topics.listing(store)}
    assert "Zorblax Labs" in names and "Quorvath Ridge" not in names
    assert not any("@" in n or "zorblax.example" in n for n in names)
    topics.mine(store, Settings(learn_from_chats=False))
    assert topics.listing(store) == []


def test_conflicting_corrections_are_left_out_until_the_user_chooses(store):
    teach(store, "Who founded Zorblax Labs?", "Mira Quell founded Zorblax Labs.")
    teach(store, "Who founded Zorblax Labs?", "Oska Venn founded Zorblax Labs.")
    teach(store, "What is the capital of Vexaria?", "Drennport.")
    settings = Settings(learn_from_wikipedia=False)
    preview = collect.preview(store, settings)
    [conflict] = preview.conflicts
    assert conflict.question == "Who founded Zorblax Labs?" and len(conflict.items) == 2
    assert [preview.state(i) for i in preview.all_items()] == ["train", "conflict", "conflict"]
    collect.drop(store, conflict.items[1])
    preview = collect.preview(store, settings)
    assert preview.conflicts == () and [i.question for i in preview.items] == ["Who founded Zorblax Labs?",
                                                                              "What is the capital of Vexaria?"]


def test_corrections_past_the_cap_wait_and_are_learned_next(store):
    for i in range(5):
        teach(store, f"What is fact number {i}?", f"Fact {i} is true.")
    # Saved within one millisecond, as on a fast machine: the cap must still hand each over exactly once.
    store.db.execute("UPDATE feedback SET created_at = '2026-11-23T10:00:00.000+00:00'")
    settings = Settings(max_corrections_per_cycle=3, learn_from_wikipedia=False)
    first = collect.curriculum(store, settings, [], None)
    assert first.new == 3 and len(first.waiting) == 2
    assert [i.question for i in first.items] == [f"What is fact number {i}?" for i in range(3)]
    # A thumbs-up after the waiting corrections must not hide them (the watermark stops before them).
    conversation = store.new_conversation()
    store.add_user_message(conversation, "Hi?")
    store.rate(store.add_assistant_message(conversation, "Hello!"), 1)
    later = collect.curriculum(store, settings, [], first.watermark)
    assert not later.waiting and {f"What is fact number {i}?" for i in (3, 4)} <= {i.question for i in later.items}


def test_the_learning_process_runs_without_telemetry_or_hub(tmp_path):
    from learner.privacy import offline_env

    assert offline_env(None) == {"HF_HUB_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1", "HF_DATASETS_OFFLINE": "1",
                                 "HF_HUB_OFFLINE": "1"}
    assert offline_env(str(tmp_path))["HF_HUB_OFFLINE"] == "1"  # a local checkpoint: still no hub
    assert "HF_HUB_OFFLINE" not in offline_env("HuggingFaceTB/SmolLM2-360M-Instruct")  # the user named a hub model


def test_scrubbing_a_long_dotted_line_takes_linear_time():
    import time

    def seconds(n: int) -> float:
        line = "1." * n + " mail me at ada@example.org"
        best = float("inf")
        for _ in range(3):  # the best of three: another process may have the core for a moment
            started = time.perf_counter()
            assert scrub(line).endswith("mail me at [email]")
            best = min(best, time.perf_counter() - started)
        return best

    seconds(100)  # warm the regular expressions
    small, large = seconds(4_000), seconds(40_000)
    # Ten times the text: about ten times the work. The quadratic scan it replaced took a hundred times.
    assert large < 30 * max(small, 1e-4)
