"""Items that teach different answers to the same question: shown to the user, never trained on.

A correction can contradict an earlier correction of the same question, or a fact of an
article fetched for the user's topics. Training on both would teach whichever the
optimiser happens to favour; instead both sides are left out of the cycle until the user
drops the wrong one in the training data preview.
"""

from collections import defaultdict
from itertools import combinations

from learner.dataset import item_key
from learner.evaluate import has_terms, knows


def _question(text: str) -> str:
    return " ".join(text.lower().replace("?", " ").split())


def _agree(a: dict, b: dict, question: str) -> bool:
    if "expect" in a or "expect" in b:
        fact, other = (a, b) if "expect" in a else (b, a)
        return has_terms(other["answer"], fact["expect"]) if fact["expect"] else True
    return knows(a["answer"], b["answer"], question) or knows(b["answer"], a["answer"], question)


def find(examples: list[dict], facts: list[dict]) -> list[dict]:
    """[{"question", "items": [{"kind", "answer", "key", "source"}]}] for each question taught two ways."""
    by_question = defaultdict(list)
    for e in examples:
        if e["kind"] == "correction":
            by_question[_question(e["question"])].append(
                {"kind": "correction", "question": e["question"], "answer": e["answer"],
                 "source": {"kind": "correction", "message_id": e["message_id"]}})
    for f in facts:
        by_question[_question(f["question"])].append(
            {"kind": "article", "question": f["question"], "answer": f["answer"], "expect": f["expect"],
             "source": f["source"]})
    conflicts = []
    for question, items in by_question.items():
        if len(items) > 1 and any(not _agree(a, b, question) for a, b in combinations(items, 2)):
            conflicts.append({"question": items[0]["question"],
                              "items": [{"kind": i["kind"], "answer": i["answer"], "source": i["source"],
                                         "key": item_key(i["question"], i["answer"])} for i in items]})
    return conflicts


def keys(conflicts: list[dict]) -> set[str]:
    return {item["key"] for c in conflicts for item in c["items"]}
