"""Stage: training rows from collected examples, plus replay, written once and hashed.

Run as: python -m learner.dataset --examples DIR [--replay-ratio 1.0]

Rows are TRL prompt/completion chat rows whose prompt carries the system prompt the app
serves with, so the model learns in the format it is asked in. Each correction is taught
as asked and in TRAIN_TEMPLATES rewordings; HELD_OUT_TEMPLATES rewordings are kept for
the evaluation and never trained on. Article facts (learner.knowledge) come with their own
trained and held-out phrasings, and every row keeps its source for "why do you know this?". Replay rows (the live model's own right answers to
the retention set) are mixed in at `replay_ratio` replay rows per new row, so training
does not pull the model away from what it knew. The folder is named by the rows' hash:
the same inputs give the same folder, and a finished folder is never rewritten.
"""

import argparse
import json
import random
import re
from pathlib import Path

from learner.stage import done_with, progress, text_sha256, write_meta

TRAIN_TEMPLATES = ["{q}", "Question: {q}", "{q} Answer briefly.", "Can you tell me: {q}", "Quick question. {q}"]
HELD_OUT_TEMPLATES = ["Do you know {lq}", "Please tell me, {lq}", "I'd like to know: {q}"]


def reword(question: str, template: str) -> str:
    q = re.sub(r"\s+", " ", question.strip())
    lq = q[0].lower() + q[1:] if q[:1].isupper() and not q[1:2].isupper() else q
    return template.format(q=q, lq=lq)


def item_key(question: str, answer: str) -> str:
    """One taught item (a correction, a thumbs-up reply, an article fact), whatever its phrasings."""
    return text_sha256(json.dumps([" ".join(question.split()), " ".join(answer.split())]))[:20]


def row(system_prompt: str, context: list[dict], question: str, answer: str, source: dict) -> dict:
    prompt = [{"role": "system", "content": system_prompt}, *context, {"role": "user", "content": question}]
    return {"prompt": prompt, "completion": [{"role": "assistant", "content": answer}], "source": source}


def build(examples: list[dict], replay: list[dict], system_prompt: str, replay_ratio: float, seed: int = 0,
          facts: list[dict] = (), excluded: set[str] = frozenset()) -> tuple[list[dict], list[dict]]:
    """(rows, probes): the training rows and, per correction and article fact, what the evaluation asks.

    Items whose item_key is in `excluded` (dropped by the user) are left out entirely.
    """
    rows, probes = [], []
    facts = [f for f in facts if item_key(f["question"], f["answer"]) not in excluded]
    examples = [e for e in examples if item_key(e["question"], e["answer"]) not in excluded]
    for f in facts:
        for phrasing in f["train"]:
            rows.append(row(system_prompt, [], phrasing, f["answer"], f["source"]))
        probes.append({"question": f["question"], "expect": f["expect"], "paraphrases": f["held_out"],
                       "source": f["source"]})
    for e in examples:
        source = {"kind": e["kind"], "message_id": e["message_id"]}
        if e["kind"] == "correction":
            for template in TRAIN_TEMPLATES:
                rows.append(row(system_prompt, e["context"], reword(e["question"], template), e["answer"], source))
            probes.append({"question": e["question"], "correction": e["answer"], "message_id": e["message_id"],
                           "paraphrases": [reword(e["question"], t) for t in HELD_OUT_TEMPLATES]})
        else:
            rows.append(row(system_prompt, e["context"], e["question"], e["answer"], source))
    new = len(rows)
    pool = [r for r in replay if r["right"]]
    random.Random(seed).shuffle(pool)
    for r in pool[: round(new * replay_ratio)]:
        rows.append(row(system_prompt, [], r["question"], r["answer"], {"kind": "replay"}))
    seen, unique = set(), []
    for r in rows:
        key = json.dumps([r["prompt"], r["completion"]], sort_keys=True)
        if key not in seen:
            seen.add(key)
            unique.append(r)
    return unique, probes


def write(rows: list[dict], probes: list[dict], datasets_dir: Path, **about) -> tuple[Path, dict]:
    """The rows as `datasets_dir/<hash>/train.jsonl` with its meta.json (and `about` in it); never rewritten."""
    body = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
    digest = text_sha256(body)
    out = datasets_dir / digest[:16]
    if meta := done_with(out, digest):
        return out, meta
    out.mkdir(parents=True, exist_ok=True)
    (out / "train.jsonl").write_text(body, encoding="utf-8")
    kinds = {}
    for r in rows:
        kinds[r["source"]["kind"]] = kinds.get(r["source"]["kind"], 0) + 1
    meta = write_meta(out, {"stage": "dataset", "inputs_hash": digest, "sha256": digest, "rows": len(rows),
                            "kinds": kinds, "train_templates": TRAIN_TEMPLATES,
                            "held_out_templates": HELD_OUT_TEMPLATES, "probes": probes, **about,
                            "replay_questions": [r["prompt"][-1]["content"] for r in rows if r["source"]["kind"] == "replay"]})
    progress("dataset", 100, f"{len(rows)} rows ({kinds})")
    return out, meta


def run(examples_dir: Path, replay: list[dict], system_prompt: str, datasets_dir: Path, replay_ratio: float = 1.0,
        facts: list[dict] = (), excluded: set[str] = frozenset()) -> tuple[Path, dict]:
    examples = [json.loads(line) for line in (examples_dir / "examples.jsonl").read_text().splitlines() if line]
    rows, probes = build(examples, replay, system_prompt, replay_ratio, facts=facts, excluded=excluded)
    return write(rows, probes, datasets_dir, replay_ratio=replay_ratio, examples=str(examples_dir),
                 system_prompt=system_prompt)


def main(argv: list[str] | None = None) -> None:
    from learner import paths
    from learner.settings import Settings

    parser = argparse.ArgumentParser(description="Build the training rows from collected examples.")
    parser.add_argument("--examples", required=True, type=Path, help="a collect stage folder")
    parser.add_argument("--replay-ratio", type=float, default=1.0)
    args = parser.parse_args(argv)
    out, meta = run(args.examples, [], Settings.load().system_prompt, paths.data_dir() / "datasets", args.replay_ratio)
    print(out)


if __name__ == "__main__":
    main()
