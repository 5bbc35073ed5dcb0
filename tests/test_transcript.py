"""One conversation exported as Markdown or JSON: by the core functions the window calls, and by
`grokling export --conversation ID --format md|json`."""

import json
import os
import subprocess
import sys
from pathlib import Path

from learner.store import Store
from learner.transcript import conversation_json, conversation_markdown

GROKLING = str(Path(sys.executable).with_name("grokling"))


def a_taught_chat(store: Store) -> int:
    conversation = store.new_conversation(system_prompt="Answer briefly.")
    store.add_user_message(conversation, "Who founded Zorblax Labs?")
    wrong = store.add_assistant_message(conversation, "I do not know.", model_version="base")
    store.rate(wrong, -1)
    store.correct(wrong, "Mira Quell, in 2041.\nShe still runs it.")
    store.add_user_message(conversation, "Thanks! What is 2 + 2?")
    replaced = store.add_assistant_message(conversation, "5", model_version="base")
    store.supersede_from(replaced)  # regenerated: not part of the chat as it stands
    right = store.add_assistant_message(conversation, "4", model_version="base", status="stopped")
    store.rate(right, 1)
    return conversation


def test_json_has_every_message_in_order_with_its_time_and_feedback(store):
    conversation = a_taught_chat(store)
    record = json.loads(conversation_json(store, conversation))
    assert (record["id"], record["title"], record["source"]) == (conversation, "Who founded Zorblax Labs?", "window")
    messages = record["messages"]
    assert [(m["role"], m["content"]) for m in messages] == [
        ("system", "Answer briefly."), ("user", "Who founded Zorblax Labs?"), ("assistant", "I do not know."),
        ("user", "Thanks! What is 2 + 2?"), ("assistant", "4")]
    assert all(m["created_at"] for m in messages[1:])
    assert [(m["rating"], m["correction"], m["status"]) for m in messages if m["role"] == "assistant"] == [
        (-1, "Mira Quell, in 2041.\nShe still runs it.", "complete"), (1, None, "stopped")]


def test_markdown_reads_as_the_chat_with_its_feedback(store):
    markdown = conversation_markdown(store, a_taught_chat(store))
    assert markdown.startswith("# Who founded Zorblax Labs?\n\n*Chat, started ")
    assert "**System prompt**\n\n> Answer briefly." in markdown
    assert "## You · " in markdown and "\n\nWho founded Zorblax Labs?\n" in markdown
    assert "· ▼ Bad\n\nI do not know.\n\n**Your correction**\n\n> Mira Quell, in 2041.\n> She still runs it." in markdown
    assert "· stopped · ▲ Good\n\n4" in markdown and "\n\n5\n" not in markdown


def test_grokling_export_writes_one_conversation_as_markdown_or_json(grokling_home, tmp_path):
    with Store() as store:
        conversation = a_taught_chat(store)
        markdown, record = conversation_markdown(store, conversation), conversation_json(store, conversation)
    env = {**os.environ, "GROKLING_HOME": str(grokling_home)}

    def export(*args) -> subprocess.CompletedProcess:
        return subprocess.run([GROKLING, "export", *args], capture_output=True, text=True, env=env, timeout=120)

    assert export("--conversation", str(conversation), "--format", "md").stdout == markdown
    export("--conversation", str(conversation), "--format", "json", "--output", str(tmp_path / "chat.json"))
    assert (tmp_path / "chat.json").read_text() == record
    [line] = export("--conversation", str(conversation)).stdout.splitlines()  # jsonl, one conversation
    assert json.loads(line) == json.loads(record)
    alone = export("--format", "md")
    assert alone.returncode == 2 and "--format md writes one conversation: add --conversation ID" in alone.stderr
    unknown = export("--conversation", "999", "--format", "json")
    assert unknown.returncode == 2 and "no conversation 999" in unknown.stderr
