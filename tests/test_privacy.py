"""Personal data never reaches training data; opted-out and deleted chats are never learned from."""

import pytest

from learner.learning import collect, topics
from learner.privacy import scrub
from learner.settings import Settings, SettingsError


@pytest.mark.parametrize("text, expected", [
    ("Mail jane.doe+news@example.co.uk today", "Mail [email] today"),
    ("Call +44 20 7946 0958 or (415) 555-0132 or 415.555.0132", "Call [phone number] or [phone number] or [phone number]"),
    ("Tel. +1-415-555-0100, +81 3-1234-5678, +61 2 9876 5432, +91 98765 43210",
     "Tel. [phone number], [phone number], [phone number], [phone number]"),
    ("Ruf mich an: +49 30 901820 oder 030 901820", "Ruf mich an: [phone number] oder [phone number]"),
    ("Appelle le 01 42 68 53 00 ou le 06 12 34 56 78", "Appelle le [phone number] ou le [phone number]"),
    ("Call 020 7946 0958 tomorrow", "Call [phone number] tomorrow"),
    ("Card 4111 1111 1111 1111, exp 12/29", "Card [card number], exp 12/29"),
    ("Not a card: 1234 5678 9012 3456", "Not a card: 1234 5678 9012 3456"),  # fails the Luhn check
    ("Pay to DE89 3704 0044 0532 0130 00 or GB82WEST12345698765432, thanks", "Pay to [iban] or [iban], thanks"),
    ("Not an IBAN: DE88 3704 0044 0532 0130 00", "Not an IBAN: DE88 3704 0044 0532 0130 00"),  # checksum fails
    ("ssh to 192.168.1.20 or 2001:db8::8a2e:370:7334, or ::ffff:10.0.0.1", "ssh to [ip address] or [ip address], or [ip address]"),
    ("fe80::1%eth0 is link-local; 2001:0db8:85a3:0000:0000:8a2e:0370:7334 too",
     "[ip address]%eth0 is link-local; [ip address] too"),
])
def test_scrub(text, expected):
    assert scrub(text) == expected


@pytest.mark.parametrize("text", [
    "Founded on 12-05-2041, cost 12,500 in 1999; pi is 3.14159",
    "It cost $1,234,567.89 on 2023-11-23 at 10:30:45",
    "The population was 8,336,817 in 2020, from 1999 to 2005 and 2010-2015.",
    "Meet at 10:30 on 23.11.2026, room 1204, invoice 2026-0042, postcode 10115 Berlin",
    "Between 20 and 30 people, order 1234567, ISBN 978-3-16-148410-0, version 3.12.1",
    "Not addresses: 999.1.2.3, 1.2.3, std::vector, 12:30:45, a ratio 16:9",
])
def test_dates_amounts_codes_and_times_are_kept(text):
    assert scrub(text) == text


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


def test_the_learning_process_runs_without_telemetry_or_hub():
    from learner.privacy import offline_env

    # Even for a model added from the hub: it was downloaded when it was added, learning reads it from disk.
    assert offline_env() == {"HF_HUB_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1", "HF_DATASETS_OFFLINE": "1",
                             "HF_HUB_OFFLINE": "1"}


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
