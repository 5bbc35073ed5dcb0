"""Stage: the curriculum, what this cycle teaches: the user's feedback and the articles' facts.

Run as: python -m learner.learning.collect [--facts DIR] [--out DIR]

- a correction's text is the target for the question it answered;
- a thumbs-up reply (not corrected) is a positive example as it stands;
- a thumbs-down without a correction is not trained on (the topics stage counts it as a
  reply that went badly);
- article facts come from the knowledge stage's folder (`--facts`).
Conversations the user opted out of are skipped (all of them with learn_from_chats off),
and personal data is scrubbed (learner.privacy) before anything is written. Every
feedback item ever given is in the curriculum, so what versions 1..N learned stays in
(learner.learning.strategy decides which of them a cycle trains on: those the live version
has not learned, and a rehearsal of those it has); `new` counts those given since the
live version's watermark. Which items are taught, wait, were dropped or conflict is `learner.items.select`.

Writes curriculum.jsonl (the items taught) and meta.json (counts, conflicts, watermark).
"""

import argparse
import json
from pathlib import Path

from learner import items as taught
from learner.files import read_meta, text_sha256, write_meta
from learner.items import Curriculum, Provenance, TaughtItem
from learner.learning import topics
from learner.learning.stage import progress
from learner.privacy import cleaner
from learner.settings import Settings
from learner.store import Store
from learner.store import learning as learning_store
from learner.versions import BASE, Lineage

def feedback_items(store: Store, settings: Settings) -> list[TaughtItem]:
    """Every correction and thumbs-up reply the learner may read, oldest first, personal data scrubbed."""
    if not settings.learn_from_chats:
        return []
    clean = cleaner(settings)
    found = []
    for row in learning_store.taught_replies(store):
        source = Provenance(taught.CORRECTION if row["correction"] else taught.POSITIVE, row["message_id"],
                            row["conversation_id"], row["feedback_id"], row["feedback_at"])
        context = tuple({**m, "content": clean(m["content"])} for m in row["context"])
        if row["correction"]:
            found.append(taught.correction(clean(row["question"]), clean(row["correction"]), source, context))
        elif row["rating"] == 1 and row["reply"]:
            found.append(taught.positive(clean(row["question"]), clean(row["reply"]), source, context))
    return found


def learned_facts(store: Store, learned: list[dict], refreshed: set[str]) -> tuple[list[TaughtItem], list[dict]]:
    """The facts of the articles the live version learned ({title, revision, language?}), but those
    whose article was fetched again this cycle (`refreshed` titles): learning accumulates, topics may
    rotate, and nothing learned is dropped. Also the articles they come from."""
    facts, kept = [], []
    for article in learned:
        if article["title"] in refreshed:
            continue
        row = learning_store.article_row(store, article.get("language", "en"), article["title"], article["revision"])
        if row and row["facts"]:
            facts += [TaughtItem.from_dict(d) for d in json.loads(row["facts"])["items"]]
            kept.append(article)
    return facts, kept


def watermark(store: Store, lineage: Lineage) -> int | None:
    """Feedback up to this row is accounted for by the model's live version: what it learned, or what a
    later cycle or rollback already judged against it. A model that learned nothing yet counts none."""
    live = lineage.live_version()
    learned = live.meta.get("last_feedback_id") if live else None
    judged = learning_store.judged_watermark(store, lineage.key(live.name if live else BASE))
    return max((w for w in (learned, judged) if w is not None), default=None)


def curriculum(store: Store, settings: Settings, facts: list[TaughtItem], after_feedback_id: int | None) -> Curriculum:
    return taught.select(feedback_items(store, settings), facts, learning_store.dropped_keys(store),
                         max_new_corrections=settings.max_corrections_per_cycle, after_feedback_id=after_feedback_id)


def preview(store: Store, settings: Settings) -> Curriculum:
    """What the next cycle would teach the active model, without a network or a model: the facts are those
    already made of the cached articles on the topics to learn, and those its live version learned."""
    from learner import models

    facts, titles = [], set()
    if settings.learn_from_wikipedia and settings.wikipedia_consent:
        for topic in topics.to_learn(store, settings):
            row = learning_store.article_row(store, settings.wiki_language, topic.article_title or "")
            if row and row["facts"]:
                facts += [TaughtItem.from_dict(d) for d in json.loads(row["facts"])["items"]]
                titles.add(row["title"])
    lineage = models.active().lineage
    live = lineage.live_version()
    facts += learned_facts(store, live.meta.get("articles", []) if live else [], titles)[0]
    return curriculum(store, settings, facts, watermark(store, lineage))


def drop(store: Store, item: TaughtItem) -> None:
    """Keep an item out of training, every phrasing of it, until restored."""
    learning_store.drop(store, item.key, item.question, item.answer)


def restore(store: Store, key: str) -> None:
    learning_store.restore(store, key)


def run(store: Store, out: Path, settings: Settings, facts: list[TaughtItem], after_feedback_id: int | None) -> Curriculum:
    """Select the curriculum and write it into `out`, with meta.json."""
    progress("collect", 0, "reading feedback")
    chosen = curriculum(store, settings, facts, after_feedback_id)
    out.mkdir(parents=True, exist_ok=True)
    body = taught.dump(chosen.items)
    (out / taught.CURRICULUM_FILE).write_text(body, encoding="utf-8")
    write_meta(out, {
        "stage": "collect", "after_feedback_id": after_feedback_id, "inputs_hash": text_sha256(body),
        "sha256": chosen.sha256, "new": chosen.new, "watermark": chosen.watermark,
        "corrections": chosen.count(taught.CORRECTION), "positives": chosen.count(taught.POSITIVE),
        "facts": chosen.count(taught.ARTICLE), "waiting": len(chosen.waiting), "dropped": len(chosen.dropped),
        "conflicts": [c.to_dict() for c in chosen.conflicts]})
    waiting = f", {len(chosen.waiting)} waiting for a later cycle" if chosen.waiting else ""
    progress("collect", 100, f"{chosen.count(taught.CORRECTION)} corrections ({chosen.new} new), "
                             f"{chosen.count(taught.POSITIVE)} thumbs-up, {chosen.count(taught.ARTICLE)} facts{waiting}")
    if chosen.conflicts:
        progress("collect", 100, f"{len(chosen.conflicts)} question(s) taught two different ways: "
                                 "left out until you choose")
    return chosen


def main(argv: list[str] | None = None) -> None:
    from learner import models, paths

    parser = argparse.ArgumentParser(description="Select what the next cycle teaches.")
    parser.add_argument("--facts", type=Path, help="a knowledge stage folder (default: no article facts)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    store = Store()
    out = args.out or paths.data_dir() / "runs" / "manual" / "collect"
    facts = taught.load(args.facts / taught.FACTS_FILE) if args.facts else []
    run(store, out, Settings.load(), facts, watermark(store, models.active().lineage))
    print(json.dumps(read_meta(out), indent=2))


if __name__ == "__main__":
    main()
