"""Model-written facts: the chat model asks quiz questions about a passage; each is checked against it.

The knowledge stage's templates only see sentences that fit their patterns. A model can
ask about anything a passage says, but a small one also writes questions the passage does
not answer, answers that are not in it, or echoes the prompt. So every pair is checked:

- a real question (ends with "?", not about "the text" or "the answer");
- the answer's key terms (items.key_terms) all occur in one sentence of the passage,
  and that sentence, not the model's words, becomes the trained answer: grounded by
  construction, like the templates';
- the question's own content words come from the passage (it asks about this text),
  and it names the article's subject or asks for it, so it stands alone outside the passage;
- the answer adds something the question does not already say.

Trained and held-out phrasings are learner.items' templates, as for a correction.
"""

import re

from dataclasses import replace

from learner.chat.engine import Engine, Sampling
from learner.items import ARTICLE, EXPECT_TERMS, HELD_OUT_TEMPLATES, TRAIN_TEMPLATES, Provenance, TaughtItem, key_terms, reword

PROMPT = ("Read this text:\n{passage}\n\nWrite three quiz questions about it with answers taken from the text. "
          "Format each as 'Q: ...' then 'A: ...'.")
"""Of the prompts tried on the embedded model, the one whose pairs most often passed the checks."""
WRITING = Sampling(temperature=0.0, max_tokens=200, repeat_penalty=1.0)
_PAIR = re.compile(r"^\s*Q\d*[:.)]\s*(?P<q>.+?)\s*\n+\s*A\d*[:.)]\s*(?P<a>.+?)\s*$", re.M)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’-]*")
_META = re.compile(r"\b(?:text|passage|answer|question|article|quiz)\b", re.I)
_COMMON = frozenset("a an the of in on at by to for from with and or is was are were be been what who whom which "
                    "when where why how does did do its it this that these those has had have many much name "
                    "named called".split())


def pairs(text: str) -> list[tuple[str, str]]:
    """The (question, answer) pairs of a writer's reply."""
    return [(m["q"].strip(), m["a"].strip().strip('"')) for m in _PAIR.finditer(text)]


def _content_words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text) if w.lower() not in _COMMON}


def check(question: str, answer: str, title: str, passage: list[str]) -> tuple[str, list[str]] | str:
    """(grounding sentence, expected terms) for a sound pair, or why it was rejected."""
    if not question.endswith("?") or len(question.split()) < 4:
        return "not a question"
    if _META.search(question) or _META.search(answer):
        return "about the text, not the subject"
    if title.lower() not in f"{question} {answer}".lower():
        return "names neither the subject nor asks for it"
    terms = key_terms(answer, question)[:EXPECT_TERMS]
    if not terms:
        return "the answer adds nothing to the question"
    grounding = [s for s in passage if all(t.lower() in s.lower() for t in terms)]
    if not grounding:
        return "the answer is not in the passage"
    said = set().union(*(_content_words(s) for s in passage))
    asked = _content_words(question) - _content_words(title)
    if asked - said:
        return "asks about what the passage does not say"
    # Of the sentences holding the answer, the one that also says most of what was asked.
    return max(grounding, key=lambda s: len(asked & _content_words(s))), terms


def write(engine: Engine, title: str, section: str, passage: list[str],
          source: Provenance) -> tuple[list[TaughtItem], list[dict]]:
    """(facts, rejected pairs with the reason) for one passage of an article."""
    reply = "".join(engine.chat([{"role": "user", "content": PROMPT.format(passage=" ".join(passage))}], WRITING))
    facts, rejected = [], []
    for question, answer in pairs(reply):
        verdict = check(question, answer, title, passage)
        if isinstance(verdict, str):
            rejected.append({"question": question, "answer": answer, "reason": verdict})
            continue
        sentence, terms = verdict
        facts.append(TaughtItem(ARTICLE, question, sentence,
                                replace(source, section=section, writer="model", model_answer=answer),
                                train=tuple(reword(question, t) for t in TRAIN_TEMPLATES),
                                held_out=tuple(reword(question, t) for t in HELD_OUT_TEMPLATES), expect=tuple(terms)))
    return facts, rejected
