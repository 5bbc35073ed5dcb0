"""Instant memory: what the user taught comes back in the very next reply, before the weights learn it.

Every correction is indexed the moment it is saved (SQLite FTS5 over its question and answer,
migration m010), and so is every sentence of the Wikipedia articles read on the user's topics
(m012, with the user's consent). Before a reply, the user's question is looked up there; an item is recalled
only when it is about the same thing: every distinctive word the user asked with (a name, a
number, a rare word) is in the item, and most of the question's words are. Recalled items
go into the prompt as a note in the system prompt and as an exchange the model has just had,
which even a small model follows, and the reply records what it was given ("from your
correction of 23 Nov", "from the Wikipedia article ...").

The user's choices hold: a dropped item or either side of a conflict is never recalled, nor
an item from a chat kept out of learning, nor an article on a blocked topic or without
consent; a deleted chat's corrections are deleted with it.
This module knows the store and the curriculum's types, not the engine.
"""

import re
from dataclasses import dataclass

from learner import items as taught
from learner.items import Provenance, TaughtItem
from learner.privacy import cleaner
from learner.store import Store
from learner.store import learning as learning_store

CANDIDATES = 8
"""Best full-text matches considered per question; more than a question ever needs."""
RECALLED = 1
"""Items put into one prompt. Measured on benchmarks/wiki_bench.py's questions with the base model: one
article sentence answered 27/33, the best two 25/33 (a small model often answers from the wrong one); the
corrections' dev set (benchmarks/memory_bench.py) scored the same either way."""
ABOUT_RECALLED = 3
"""Items put into the prompt of a question about the subject itself ("Tell me about Tessaly Marr", "Who is
Tessaly Marr?"): the first sentences of what was read about it, in order."""
CLOSE = 0.1
"""An item past the best is recalled only this near its relevance: a sentence that merely names the same
subject ("...named after the explorer Dain Quorvath") beside the one that answers ("...discovered by Oska
Venn") pulls a small model's answer toward the wrong name."""
MIN_COVERAGE = 0.4
"""Weighted share of the user's words an item must contain."""
MIN_OWN_COVERAGE = 0.6
"""Without a rare word in common, the weighted share of the item question's words the user's must contain."""

_WORD = re.compile(r"\d+(?:[.,]\d+)*|[^\W_]+(?:['’][^\W_]+)*")
_STOP = frozenset(
    "a an the is are was were be been being of in on at to for from by with and or not it its this that these those "
    "who whom whose what when where which why how do does did done has have had i you he she they we my your his her "
    "their our me him them us as about into than then so if but can could would should will shall may might must "
    "tell know please remind me name called there here any some one again just also very really".split())


def _stem(word: str) -> str:
    """A light stemmer for comparing words ("founded" and "found", "moons" and "moon")."""
    word = word.lower().replace("’", "'").removesuffix("'s")
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) >= 4 else word  # "named" and "name" alike


def _weights(text: str) -> dict[str, float]:
    """Content words of `text` (stemmed) and how much each tells: rare words (a name, a coined word, a
    number) weigh up to 7, everyday ones 1 (from wordfreq's English Zipf scale: 7 minus the word's frequency)."""
    from wordfreq import zipf_frequency

    weights: dict[str, float] = {}
    for word in _WORD.findall(text):
        if word.lower() not in _STOP:
            rare = 7.0 if any(c.isdigit() for c in word) else 7.0 - zipf_frequency(word, "en")
            weights[_stem(word)] = max(weights.get(_stem(word), 1.0), min(7.0, max(1.0, rare)))
    return weights


def _names(text: str) -> set[str]:
    """Capitalised words past the first (stemmed): the names a question is about ("Paris", "Lunar Cup")."""
    words = _WORD.findall(text)
    return {_stem(w) for w in words[1:] if w[:1].isupper() and w.lower() not in _STOP}


RARE = 4.0
"""Weight from which a word is rare (Zipf below 3: "glimmerfin", "Drennport", "corgi"), or a number."""


def relevance(question: str, item: TaughtItem) -> float:
    """How surely `item` is about what `question` asks, from 0 to 1; 0 unless every name the user asks
    about is in the item and they share a rare word (or the item's own question is mostly in the
    user's). Weighted by rarity: the share of the user's
    words the item contains, and of the item question's words the user's question contains. Both
    are high for a rewording; the first alone, with a shared rare word, for a question asked the
    other way round ("What did Mira Quell found?")."""
    asked = _weights(question)
    if not asked:
        return 0.0
    known = _weights(f"{item.question} {item.answer}")
    own = _weights(item.question)
    user_side = sum(w for s, w in asked.items() if s in known) / sum(asked.values())
    item_side = sum(w for s, w in own.items() if s in asked) / max(1e-9, sum(own.values()))
    shared_rare = any(w >= RARE and s in known for s, w in asked.items())
    names = _names(question)
    # An article's sentence has no question of its own to compare: that it names what the user asks about is the sign.
    about_it = item_side >= MIN_OWN_COVERAGE or (item.kind == taught.ARTICLE and bool(names))
    if not (shared_rare or about_it) or not names <= known.keys():
        return 0.0
    return user_side


_NUMBER = r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|million|billion)\b"
ANSWER_KINDS = [
    # (what the question starts with, what a sentence answering it holds)
    (re.compile(r"^(?:when|what year|in what year|which year)\b", re.I), re.compile(r"\b\d{3,4}\b")),
    (re.compile(r"^(?:how (?:many|much|old|long|big|large|tall|high|wide|far|deep))\b", re.I), re.compile(_NUMBER, re.I)),
    (re.compile(r"^where\b", re.I), re.compile(r"\b(?:in|at|on|near|from|to) (?:the )?[A-Z]")),
    (re.compile(r"^(?:who|whom)\b", re.I), re.compile(r"(?<!^)(?<!\. )\b[A-Z][a-z]+ [A-Z][a-z]+")),
]
"""The kind of answer a question wants (a year, a number, a place, a person) and how a sentence holding one
looks: between items equally about the question, one that holds that kind of answer goes first ("Where was
Tessaly Marr born?": "...was born in Harrowick", not "...(born 14 May 1958) is an Osterlandic novelist")."""


def about_the_subject(question: str) -> bool:
    """Whether `question` asks about what it names and nothing more ("Tell me about Tessaly Marr")."""
    asked = _weights(question)
    return bool(asked) and asked.keys() <= _names(question)


def holds_answer(question: str, item: TaughtItem) -> bool:
    """Whether `item` holds the kind of answer `question` asks for, outside the words of the question."""
    asked = _weights(question)
    rest = " ".join(w for w in item.answer.split() if _stem(w.strip(".,;:")) not in asked)
    return any(asks.match(question.strip()) and holds.search(rest) for asks, holds in ANSWER_KINDS)


@dataclass(frozen=True)
class Recalled:
    item: TaughtItem
    relevance: float

    def to_dict(self) -> dict:
        return {"question": self.item.question, "answer": self.item.answer, "key": self.item.key,
                "source": self.item.source.to_dict(), "relevance": round(self.relevance, 3)}


def _item(row: dict, clean) -> TaughtItem:
    """The correction as the curriculum has it (scrubbed alike, so its key matches the user's drops)."""
    source = Provenance(taught.CORRECTION, row["message_id"], row["conversation_id"], row["feedback_id"],
                        row["created_at"])
    return taught.correction(clean(row["question"]), clean(row["answer"]), source)


def _read(row: dict) -> TaughtItem:
    """A sentence of an article grokling read, as a taught item of its own."""
    about = f" about its {row['section'].lower()}" if row["section"] else ""
    question = f"What does the Wikipedia article {row['title']} say{about}?"
    source = Provenance(taught.ARTICLE, title=row["title"], revision=row["revision"], url=row["url"],
                        section=row["section"])
    return TaughtItem(taught.ARTICLE, question, row["sentence"], source, (question,))


def recall(store: Store, question: str, settings, exclude_conversation: int | None = None) -> list[Recalled]:
    """The taught items and read sentences about `question`, most relevant first (at most RECALLED, or
    ABOUT_RECALLED for a question about the subject itself)."""
    # As FTS5's tokenizer splits them: "Vexaria's" is "vexaria" and "s".
    words = [re.split(r"['’]", w)[0].lower() for w in _WORD.findall(question) if w.lower() not in _STOP]
    if not words or not settings.instant_memory:
        return []
    match = " OR ".join('"' + w.replace('"', '""') + '"' for w in dict.fromkeys(words))
    candidates = []
    if settings.learn_from_chats:
        clean = cleaner(settings)
        rows = learning_store.memory_candidates(store, match, CANDIDATES)
        dropped = learning_store.dropped_keys(store)
        corrections = [i for i in (_item(r, clean) for r in rows if r["conversation_id"] != exclude_conversation)
                       if i.key not in dropped]
        in_conflict = {i.key for c in taught.conflicts(corrections) for i in c.items}
        candidates += [i for i in corrections if i.key not in in_conflict]
    if settings.learn_from_wikipedia and settings.wikipedia_consent:
        rows = learning_store.article_memory_candidates(store, settings.wiki_language, match, CANDIDATES)
        candidates += [_read(r) for r in sorted(rows, key=lambda r: r["id"])]  # equally relevant: in the article's order
    scored = [Recalled(i, relevance(question, i)) for i in candidates]
    about = about_the_subject(question)
    # "Who is Tessaly Marr?" asks what was read first about her, not for another name: article order decides.
    found = sorted((r for r in scored if r.relevance >= MIN_COVERAGE),
                   key=lambda r: (-r.relevance, about or not holds_answer(question, r.item)))
    limit = ABOUT_RECALLED if about else RECALLED
    return [r for r in found[:limit] if r.relevance >= found[0].relevance - CLOSE]


def taught_answer(question: str, recalled: list[Recalled]) -> str | None:
    """The user's own answer when `question` is a corrected question asked again word for word (case and
    punctuation aside): given as taught, not left to the model. The small model ignored a note it was
    given on 1 of the dev set's 30 taught questions ("What is the capital of Vexaria?" answered "...is
    not a place." beside "The capital of Vexaria is Drennport."); a reworded question still goes
    through the note, where the model words the answer."""
    if not recalled or recalled[0].item.kind != taught.CORRECTION:
        return None
    said = [w.lower() for w in _WORD.findall(question)]
    return recalled[0].item.answer if said and said == [w.lower() for w in _WORD.findall(recalled[0].item.question)] else None


NOTE = "What the user taught you (answer with it when it fits the question):"
"""Heads the recalled answers in the system prompt. Measured on the dev set (benchmarks/memory_bench.py,
perfect recall, the embedded model): the note and the exchange together answered 29/30 taught and 57/60
reworded questions as taught; the exchange alone 26/30 and 53/60, the note alone 28/30 and 49/60."""


READ_NOTE = "What you read on Wikipedia (answer with it when it fits the question):"


def with_memory(messages: list[dict], recalled: list[Recalled]) -> list[dict]:
    """The chat with the recalled items in it twice: noted in the system prompt, and as an exchange just
    before the user's question (each taught question asked, and answered as the user taught it)."""
    if not recalled:
        return messages
    remembered = []
    for r in reversed(recalled):  # the most relevant nearest to the question
        remembered += [{"role": "user", "content": r.item.question}, {"role": "assistant", "content": r.item.answer}]
    taught_answers = [r.item.answer for r in recalled if r.item.kind != taught.ARTICLE]
    read = [r.item.answer for r in recalled if r.item.kind == taught.ARTICLE]
    note = "\n\n".join("\n".join([head, *answers]) for head, answers in ((NOTE, taught_answers), (READ_NOTE, read))
                       if answers)
    if messages and messages[0]["role"] == "system":
        head = [{**messages[0], "content": f"{messages[0]['content']}\n\n{note}"}]
        body = messages[1:-1]
    else:
        head, body = [{"role": "system", "content": note}], messages[:-1]
    return [*head, *body, *remembered, messages[-1]]
