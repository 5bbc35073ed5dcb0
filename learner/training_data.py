"""What the next cycle would train on, for the user to read before it does, and drop items from.

`preview` lists the taught items (corrections, thumbs-up replies, facts from the articles
already fetched for the topics to learn; no network) with their provenance; `drop` and
`restore` keep the user's choice in the store, and the dataset stage leaves dropped items
out, every phrasing of them and their evaluation questions too.
"""

import json

from learner import collect, conflicts, knowledge, topics
from learner.dataset import item_key
from learner.store import Store, now


def excluded_keys(store: Store) -> set[str]:
    return {r["key"] for r in store.query("SELECT key FROM training_exclusions")}


def preview(store: Store, settings) -> list[dict]:
    """[{key, kind, question, answer, source, dropped}] for every item the next cycle would teach."""
    dropped = excluded_keys(store)
    items = []
    for e in collect.collect(store, settings=settings)["examples"]:
        items.append({"kind": e["kind"], "question": e["question"], "answer": e["answer"],
                      "source": {"kind": e["kind"], "message_id": e["message_id"]}})
    if settings.learn_from_wikipedia:
        for topic in topics.to_learn(store, settings.topic_min_mentions, settings.topics_per_cycle):
            article = knowledge.cached_article(store, settings.wiki_language, topic.article_title or "")
            if article:
                for fact in knowledge.facts_from(article, settings.facts_per_article):
                    items.append({"kind": "article", "question": fact.question, "answer": fact.answer,
                                  "expect": fact.expect, "source": fact.source})
    live = [i for i in items if item_key(i["question"], i["answer"]) not in dropped]
    in_conflict = conflicts.keys(conflicts.find(
        [{**i, "message_id": i["source"].get("message_id")} for i in live if i["kind"] != "article"],
        [i for i in live if i["kind"] == "article"]))
    for item in items:
        item["key"] = item_key(item["question"], item["answer"])
        item["dropped"] = item["key"] in dropped
        item["conflict"] = item["key"] in in_conflict
    return items


def drop(store: Store, question: str, answer: str) -> None:
    with store.transaction() as db:
        db.execute("""INSERT OR IGNORE INTO training_exclusions (key, question, answer, created_at)
                      VALUES (?, ?, ?, ?)""", [item_key(question, answer), question, answer, now()])


def restore(store: Store, key: str) -> None:
    with store.transaction() as db:
        db.execute("DELETE FROM training_exclusions WHERE key = ?", [key])


def main() -> None:
    from learner.settings import Settings

    print(json.dumps(preview(Store(), Settings.load()), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
