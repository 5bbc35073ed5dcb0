"""Stage: training rows from the curriculum, plus replay, written once and hashed.

Run as: python -m learner.learning.dataset --curriculum DIR

Rows are TRL prompt/completion chat rows whose prompt carries the system prompt the app
serves with, so the model learns in the format it is asked in. Each taught item is trained
in its own phrasings (learner.items: a correction in several rewordings, an article fact
in its templates' questions); its held-out phrasings are never trained on. Every row keeps
its item's source for "why do you know this?". Replay rows (the base model's own right
answers to the retention set, learner.learning.retention) are mixed in at `replay_ratio`
replay rows per taught row, so training does not pull the model away from what it knew (the train
stage holds them to the base model's whole next-token distribution, not to the answer's words alone).
An item whose rows would not fit the trainer's token budget is left out (and named), the
earlier conversation dropped first where that is enough. The folder is named by the rows' hash: the same inputs give the same folder, and a
finished folder is never rewritten. It also holds the curriculum's probed items
(learner.items.PROBES_FILE), which the evaluation asks.
"""

import argparse
import json
import random
from dataclasses import replace
from pathlib import Path

from learner.files import read_meta, text_sha256, write_meta
from learner import items as taught
from learner.items import TaughtItem
from learner.learning.stage import done_with, progress

def row(system_prompt: str, context: list[dict] | tuple[dict, ...], question: str, answer: str, source: dict) -> dict:
    prompt = [{"role": "system", "content": system_prompt}, *context, {"role": "user", "content": question}]
    return {"prompt": prompt, "completion": [{"role": "assistant", "content": answer}], "source": source}


def build(items: list[TaughtItem], replay: list[dict], system_prompt: str, replay_ratio: float,
          seed: int = 0) -> list[dict]:
    """The training rows: every trained phrasing of every item, then replay, without duplicates. A replay
    question the user taught an answer to is left out: its base answer would train against the user's."""
    rows = [row for item in items for row in item_rows(item, system_prompt)]
    taught_questions = {taught.same_question(q) for item in items for q in (item.question, *item.train, *item.about)}
    pool = [r for r in replay if r["right"] and taught.same_question(r["question"]) not in taught_questions]
    random.Random(seed).shuffle(pool)
    rows += [row(system_prompt, [], r["question"], r["answer"], {"kind": taught.REPLAY})
             for r in pool[: round(len(rows) * replay_ratio)]]
    seen, unique = set(), []
    for r in rows:
        key = json.dumps([r["prompt"], r["completion"]], sort_keys=True)
        if key not in seen:
            seen.add(key)
            unique.append(r)
    return unique


def item_rows(item: TaughtItem, system_prompt: str) -> list[dict]:
    source = {**item.source.to_dict(), "key": item.key}
    return [row(system_prompt, item.context, phrasing, item.answer, source) for phrasing in item.train] + \
        [row(system_prompt, item.context, phrasing, item.statement or item.answer, source) for phrasing in item.about]


def fit_to_budget(items: list[TaughtItem], system_prompt: str, count_tokens,
                  budget: int = taught.MAX_ROW_TOKENS) -> tuple[list[TaughtItem], list[dict]]:
    """The items whose every row fits `budget` tokens (dropping the earlier conversation first where that
    is enough), and the ones left out with the reason: one overlong item must not block the rest."""
    fitting, skipped = [], []
    for item in items:
        longest = max(count_tokens(r) for r in item_rows(item, system_prompt))
        if longest > budget and item.context:
            item = replace(item, context=())
            longest = max(count_tokens(r) for r in item_rows(item, system_prompt))
        if longest > budget:
            skipped.append({"key": item.key, "question": item.question[:120],
                            "reason": f"too long to learn ({longest} tokens; a row holds at most {budget})"})
        else:
            fitting.append(item)
    return fitting, skipped


def token_counter(checkpoint: str | Path):
    """Counts a row's tokens as the trainer will: the checkpoint's tokenizer and chat template."""
    from transformers import AutoTokenizer

    return counter_of(AutoTokenizer.from_pretrained(checkpoint))


def counter_of(tokenizer):
    return lambda r: len(tokenizer.apply_chat_template(r["prompt"] + r["completion"], tokenize=True,
                                                       return_dict=True)["input_ids"])


def write(rows: list[dict], probed: list[TaughtItem], datasets_dir: Path, **about) -> tuple[Path, dict]:
    """The rows as `datasets_dir/<hash>/train.jsonl` with the items the evaluation asks and meta.json; never
    rewritten (the hash covers both)."""
    body = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
    probes = taught.dump(probed)
    digest = text_sha256(body + probes)
    out = datasets_dir / digest[:16]
    if meta := done_with(out, digest):
        return out, meta
    out.mkdir(parents=True, exist_ok=True)
    (out / "train.jsonl").write_text(body, encoding="utf-8")
    (out / taught.PROBES_FILE).write_text(probes, encoding="utf-8")
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[r["source"]["kind"]] = kinds.get(r["source"]["kind"], 0) + 1
    meta = write_meta(out, {"stage": "dataset", "inputs_hash": digest, "sha256": digest, "rows": len(rows),
                            "kinds": kinds, "probed_items": len(probed), **about,
                            "replay_questions": [r["prompt"][-1]["content"] for r in rows if r["source"]["kind"] == taught.REPLAY]})
    progress("dataset", 100, f"{len(rows)} rows ({kinds})")
    return out, meta


def run(items: list[TaughtItem], replay: list[dict], settings, datasets_dir: Path,
        count_tokens, probed: list[TaughtItem] | tuple[TaughtItem, ...] | None = None) -> tuple[Path, dict]:
    """Rows of the items that fit a row's token budget (the rest are listed in meta.json's `skipped`).
    `count_tokens(row)` is `token_counter(checkpoint)`: the tokenizer training will use. The evaluation
    will ask those of `probed` that fit (default: every probed item; learner.learning.strategy samples)."""
    fitting, skipped = fit_to_budget(items, settings.system_prompt, count_tokens)
    rows = build(fitting, replay, settings.system_prompt, settings.replay_ratio)
    asked = {i.key for i in (items if probed is None else probed) if i.probed}
    return write(rows, [i for i in fitting if i.key in asked], datasets_dir, replay_ratio=settings.replay_ratio,
                 system_prompt=settings.system_prompt, skipped=skipped)


def main(argv: list[str] | None = None) -> None:
    from learner import models, paths
    from learner.learning import checkpoint, retention, strategy
    from learner.settings import Settings

    parser = argparse.ArgumentParser(description="Build the training rows from a curriculum, with replay.")
    parser.add_argument("--curriculum", required=True, type=Path, help="a collect stage folder")
    args = parser.parse_args(argv)
    settings = Settings.load()
    model = models.active()
    base = checkpoint.resolve(model)
    plan = strategy.plan(taught.load(args.curriculum / taught.CURRICULUM_FILE), model.lineage.live_version(), base,
                         settings.continue_from_live)
    replay = retention.answers(model.base(), settings.system_prompt, retention.REPLAY)
    out, _ = run(list(plan.items), replay, settings, paths.data_dir() / "datasets", token_counter(base), plan.probed)
    print(json.dumps({"dataset": str(out), "trained": plan.reason,
                      **{k: read_meta(out)[k] for k in ("rows", "kinds", "skipped")}}, indent=2))


if __name__ == "__main__":
    main()
