"""One conversation as a file to keep or share: Markdown to read, JSON to process.

Both are made from Store.export_conversation, the record `grokling export` writes for every
conversation: the thread as it stands (replaced messages left out), each message with its
time, each reply with its status and the user's latest rating and correction. The window's
export menu and `grokling export --conversation ID --format md|json` call these.
"""

import json
from datetime import datetime

from learner.store import Store

SOURCES = {"window": "Chat", "cli": "Chat from the command line", "api": "Chat through the local API"}
RATINGS = {1: "▲ Good", -1: "▼ Bad"}
STATUSES = {"stopped": "stopped", "error": "failed"}


def conversation_json(store: Store, conversation_id: int) -> str:
    return json.dumps(store.export_conversation(conversation_id), indent=2, ensure_ascii=False) + "\n"


def conversation_markdown(store: Store, conversation_id: int) -> str:
    record = store.export_conversation(conversation_id)
    lines = [f"# {record['title']}", "",
             f"*{SOURCES[record['source']]}, started {_local_time(record['created_at'])}; exported from grokling.*", ""]
    for m in record["messages"]:
        if m["role"] == "system":
            lines += ["**System prompt**", "", _quoted(m["content"]), ""]
            continue
        notes = [_local_time(m["created_at"])]
        if m["role"] == "assistant":
            notes += [STATUSES[m["status"]]] if m["status"] in STATUSES else []
            notes += [RATINGS[m["rating"]]] if m["rating"] in RATINGS else []
        lines += [f"## {'You' if m['role'] == 'user' else 'Assistant'} · {' · '.join(notes)}", "", m["content"], ""]
        if m.get("correction"):
            lines += ["**Your correction**", "", _quoted(m["correction"]), ""]
    return "\n".join(lines)


def _local_time(stamp: str) -> str:
    return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M")


def _quoted(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines())
