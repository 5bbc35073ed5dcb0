"""Stage: gather what the user taught from the store.

Run as: python -m learner.collect [--out DIR]

- a correction's text is the target for the question it answered;
- a thumbs-up reply (not corrected) is a positive example as it stands;
- a thumbs-down without a correction is not trained on: its question is recorded as a gap.
Conversations the user opted out of are skipped (all of them with learn_from_chats off),
and personal data is scrubbed (learner.privacy) before anything is written.
Every correction ever made is collected (training starts from the base each cycle, so
what versions 1..N learned stays in); `new` counts those made since the live version.
"""

import argparse
import json
from pathlib import Path

from learner.privacy import scrub
from learner.settings import Settings
from learner.stage import progress, text_sha256, write_meta
from learner.store import Store

CONTEXT_MESSAGES = 2
"""Earlier messages kept before the question, so a reply that depended on them still makes sense."""


def _latest_feedback(store: Store) -> list[dict]:
    return list(store.db.query("""
        SELECT m.id AS message_id, m.conversation_id, m.content AS reply,
          (SELECT correction FROM feedback f WHERE f.message_id = m.id AND correction IS NOT NULL
           ORDER BY f.id DESC LIMIT 1) AS correction,
          coalesce((SELECT rating FROM feedback f WHERE f.message_id = m.id AND rating IS NOT NULL
           ORDER BY f.id DESC LIMIT 1), 0) AS rating,
          (SELECT max(created_at) FROM feedback f WHERE f.message_id = m.id) AS feedback_at,
          (SELECT max(id) FROM feedback f WHERE f.message_id = m.id) AS feedback_id
        FROM messages m JOIN conversations c ON c.id = m.conversation_id
        WHERE m.role = 'assistant' AND c.learning_opt_out = 0
          AND EXISTS (SELECT 1 FROM feedback f WHERE f.message_id = m.id)
        ORDER BY m.id"""))


def _context(store: Store, conversation_id: int, message_id: int) -> tuple[list[dict], str] | None:
    """The earlier messages and the question that the reply `message_id` answered."""
    rows = list(store.db.query(
        """SELECT role, content FROM messages WHERE conversation_id = ? AND id < ?
           AND (superseded = 0 OR id = (SELECT max(id) FROM messages WHERE conversation_id = ? AND id < ?))
           ORDER BY id""", [conversation_id, message_id, conversation_id, message_id]))
    if not rows or rows[-1]["role"] != "user":
        return None
    earlier = [r for r in rows[:-1] if r["content"]][-CONTEXT_MESSAGES:]
    return [{"role": r["role"], "content": r["content"]} for r in earlier], rows[-1]["content"]


def collect(store: Store, after_feedback_id: int | None = None, settings: Settings | None = None) -> dict:
    """Examples from conversations the user has not opted out of, personal data scrubbed (settings).

    Feedback newer than `after_feedback_id` counts as new. The watermark is the feedback row id,
    not its timestamp: two corrections saved in the same millisecond must not hide each other.
    """
    settings = settings or Settings()
    examples, gaps = [], []
    rows = _latest_feedback(store) if settings.learn_from_chats else []
    for row in rows:
        found = _context(store, row["conversation_id"], row["message_id"])
        if found is None:
            continue
        context, question = found
        base = {"message_id": row["message_id"], "conversation_id": row["conversation_id"],
                "context": context, "question": question,
                "feedback_at": row["feedback_at"], "feedback_id": row["feedback_id"]}
        if row["correction"]:
            examples.append({**base, "kind": "correction", "answer": row["correction"], "reply": row["reply"]})
        elif row["rating"] == 1 and row["reply"]:
            examples.append({**base, "kind": "positive", "answer": row["reply"]})
        elif row["rating"] == -1:
            gaps.append({**base, "kind": "gap", "reply": row["reply"]})
    if settings.scrub_personal_data:
        patterns = tuple(settings.scrub_patterns)
        for e in examples + gaps:
            for key in ("question", "answer", "reply"):
                if e.get(key):
                    e[key] = scrub(e[key], patterns)
            e["context"] = [{**m, "content": scrub(m["content"], patterns)} for m in e["context"]]
    new = [e for e in examples if after_feedback_id is None or e["feedback_id"] > after_feedback_id]
    # At most max_corrections_per_cycle new corrections, oldest first; the rest wait for later cycles.
    waiting = sorted((e for e in new if e["kind"] == "correction"),
                     key=lambda e: e["feedback_id"])[settings.max_corrections_per_cycle:]
    if waiting:
        examples = [e for e in examples if e not in waiting]
        new = [e for e in new if e not in waiting]
    return {"examples": examples, "gaps": gaps, "new": len(new), "waiting": len(waiting),
            "last_feedback_id": max((e["feedback_id"] for e in examples), default=None),
            "corrections": sum(e["kind"] == "correction" for e in examples),
            "new_corrections": sum(e["kind"] == "correction" for e in new),
            "positives": sum(e["kind"] == "positive" for e in examples)}


def run(store: Store, out: Path, after_feedback_id: int | None = None, settings: Settings | None = None) -> dict:
    """Write examples.jsonl and gaps.jsonl into `out`, with meta.json."""
    progress("collect", 0, "reading feedback")
    found = collect(store, after_feedback_id, settings)
    out.mkdir(parents=True, exist_ok=True)
    body = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in found["examples"])
    (out / "examples.jsonl").write_text(body, encoding="utf-8")
    (out / "gaps.jsonl").write_text("".join(json.dumps(g, ensure_ascii=False) + "\n" for g in found["gaps"]))
    meta = write_meta(out, {"stage": "collect", "after_feedback_id": after_feedback_id, "examples_sha256": text_sha256(body),
                            **{k: found[k] for k in ("new", "waiting", "corrections", "positives", "last_feedback_id")},
                            "gaps": len(found["gaps"])})
    progress("collect", 100, f"{meta['corrections']} corrections ({meta['new']} new), {meta['positives']} thumbs-up")
    return meta


def main(argv: list[str] | None = None) -> None:
    from learner import paths

    parser = argparse.ArgumentParser(description="Collect corrections and thumbs-up replies from the store.")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    print(json.dumps(run(Store(), args.out or paths.data_dir() / "runs" / "manual" / "collect", None, Settings.load()),
                     indent=2))


if __name__ == "__main__":
    main()
