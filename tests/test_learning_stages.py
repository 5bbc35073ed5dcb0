"""Each learning stage alone, on small data; the cycle's quick exits through the real subprocess."""

import json
import os
import sys

from learner import collect, cycle, dataset, evaluate
from learner.learning_job import LearningJob, cycle_command
from learner.stage import LEARNING_NICENESS
from learner.store import Store


def teach(store: Store, question: str, reply: str, correction: str | None = None, rating: int = 0) -> int:
    cid = store.new_conversation()
    store.add_user_message(cid, question)
    mid = store.add_assistant_message(cid, reply)
    if correction:
        store.correct(mid, correction)
    if rating:
        store.rate(mid, rating)
    return mid


def test_collect_sorts_feedback_into_corrections_positives_and_gaps(store, tmp_path):
    teach(store, "Who founded Zorblax Labs?", "Nobody knows.", correction="Mira Quell founded it in 2041.", rating=-1)
    teach(store, "What is 2 plus 2?", "4.", rating=1)
    teach(store, "What is the capital of Vexaria?", "Paris.", rating=-1)
    teach(store, "Unrated question", "Unrated answer.")
    cid = store.new_conversation()
    store.add_user_message(cid, "My name is Ada.")
    store.add_assistant_message(cid, "Hello Ada.")
    store.add_user_message(cid, "What is my name?")
    mid = store.add_assistant_message(cid, "Bob.")
    store.correct(mid, "Your name is Ada.")

    meta = collect.run(store, tmp_path / "collect")
    examples = [json.loads(l) for l in (tmp_path / "collect" / "examples.jsonl").read_text().splitlines()]
    assert (meta["corrections"], meta["positives"], meta["gaps"], meta["new"]) == (2, 1, 1, 3)
    by_question = {e["question"]: e for e in examples}
    assert by_question["Who founded Zorblax Labs?"]["answer"] == "Mira Quell founded it in 2041."
    assert by_question["What is 2 plus 2?"]["kind"] == "positive"
    assert by_question["What is my name?"]["context"] == [
        {"role": "user", "content": "My name is Ada."}, {"role": "assistant", "content": "Hello Ada."}]
    assert "What is the capital of Vexaria?" not in by_question  # a thumbs-down alone is a gap
    later = collect.collect(store, max(e["feedback_id"] for e in examples))
    assert later["new"] == 0 and later["corrections"] == 2  # everything is kept, nothing is new


def test_dataset_teaches_rewordings_holds_out_others_and_mixes_replay(tmp_path):
    examples_dir = tmp_path / "collect"
    examples_dir.mkdir()
    example = {"kind": "correction", "message_id": 1, "context": [], "question": "Who founded Zorblax Labs?",
               "answer": "Mira Quell.", "feedback_at": "x"}
    (examples_dir / "examples.jsonl").write_text(json.dumps(example) + "\n")
    replay = [{"question": f"Q{i}?", "answer": f"A{i}.", "right": i % 2 == 0} for i in range(40)]
    out, meta = dataset.run(examples_dir, replay, "SYS", tmp_path / "datasets", replay_ratio=2.0)
    rows = [json.loads(l) for l in (out / "train.jsonl").read_text().splitlines()]
    taught = [r["prompt"][-1]["content"] for r in rows if r["source"]["kind"] == "correction"]
    assert len(taught) == len(dataset.TRAIN_TEMPLATES) and "Who founded Zorblax Labs?" in taught
    assert all(r["prompt"][0] == {"role": "system", "content": "SYS"} for r in rows)
    assert meta["kinds"] == {"correction": 5, "replay": 10}
    assert all(r["completion"][0]["content"].startswith("A") for r in rows if r["source"]["kind"] == "replay")
    [probe] = meta["probes"]
    assert probe["paraphrases"] and not set(probe["paraphrases"]) & set(taught)  # held out
    assert out.name == meta["sha256"][:16]
    again, _ = dataset.run(examples_dir, replay, "SYS", tmp_path / "datasets", replay_ratio=2.0)
    assert again == out and len(list((tmp_path / "datasets").iterdir())) == 1  # idempotent


def test_an_answer_counts_when_it_has_the_corrections_key_terms():
    correction, question = "Mira Quell founded Zorblax Labs in 2041.", "Who founded Zorblax Labs?"
    assert evaluate.key_terms(correction, question) == ["Mira", "Quell", "2041"]
    assert evaluate.knows("It was Mira Quell, in 2041.", correction, question)
    assert not evaluate.knows("Zorblax Labs was founded by engineers.", correction, question)
    assert evaluate.is_right("The capital is Paris.", ["Paris"]) and not evaluate.is_right("Lyon", ["Paris"])
    assert len(evaluate.retention_set()) >= 40


def test_the_cycle_subprocess_reports_nothing_to_learn_as_json_lines(grokling_home):
    events, niceness = [], []
    job = LearningJob()

    def on_event(event):
        if not niceness:  # the process is alive while it reports: it runs at the lowest CPU priority
            niceness.append(os.getpriority(os.PRIO_PROCESS, job.process.pid))
        events.append(event)

    result = job.run(on_event)
    assert niceness == [LEARNING_NICENESS]
    assert result.code == cycle.NOTHING_TO_LEARN and "nothing new" in result.reason
    assert events[0]["event"] == "progress" and events[0]["stage"] == "collect"
    assert events[-1]["event"] == "done" and events[-1]["code"] == 3
    assert cycle_command() == [sys.executable, "-m", "learner.cycle"]


def test_a_second_cycle_while_one_runs_is_refused(grokling_home):
    lock = cycle._lock()
    try:
        assert LearningJob().run().code == cycle.BUSY
    finally:
        lock.close()
