"""The curriculum: everything grokling was taught, as one typed list that every part shares.

A taught item is a correction, a thumbs-up reply or a fact from an article. It carries its
question and answer, the conversation before the question, where it came from, the
phrasings it is trained on and those only the evaluation asks, and the terms an answer
must contain to count as "answered as taught". `select` decides which items the next
cycle trains on: new feedback past the live version's watermark, at most
`max_corrections_per_cycle` new corrections (the rest wait), never an item the user
dropped, and neither side of a question taught two different ways.

The collect stage, the training-data preview, the dataset, the evaluation, the version
record and the learning panel all use these types; the matching helpers below are the
one place that judges an answer. This module knows nothing about SQLite or models; items travel
between stages as JSON lines (`dump`, `load`).
"""

import json
import re
import unicodedata
from collections import defaultdict
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from itertools import combinations
from pathlib import Path

from learner.files import text_sha256

CORRECTION, POSITIVE, ARTICLE = "correction", "positive", "article"
KINDS = (CORRECTION, POSITIVE, ARTICLE)
REPLAY = "replay"
"""The source kind of a training row that is the base model's own answer (learner.learning.dataset), not taught."""

TRAIN_TEMPLATES = ("{q}", "Question: {q}", "{q} Answer briefly.", "Can you tell me: {q}", "Quick question. {q}")
"""How a correction's question is asked in training."""
HELD_OUT_TEMPLATES = ("Do you know {lq}", "Please tell me, {lq}", "I'd like to know: {q}")
"""How the evaluation asks it too, never trained on."""
EXPECT_TERMS = 4
"""Key terms an answer is checked for, the first ones of the taught answer: a 40-word correction is
learned when the reply says its opening names and numbers, not all of them within a short answer."""
MAX_ROW_TOKENS = 512
"""A training row's budget (system prompt, context, question and answer): the trainer's max_length,
and what the dataset checks so that no row is cut or silently dropped."""


def reword(question: str, template: str) -> str:
    q = re.sub(r"\s+", " ", question.strip())
    lq = q[0].lower() + q[1:] if q[:1].isupper() and not q[1:2].isupper() else q
    return template.format(q=q, lq=lq)


def item_key(question: str, answer: str) -> str:
    """One taught item, whatever its phrasings: what the user's drops and the conflicts refer to."""
    return text_sha256(json.dumps([" ".join(question.split()), " ".join(answer.split())]))[:20]


# -- matching -------------------------------------------------------------------------------

_WORD = re.compile(r"[\w'’-]+")
_STOPWORDS = frozenset(
    "a an the is are was were be been of in on at to for from by with and or not it its this that "
    "these those who what when where which why how do does did has have had i you he she they we "
    "my your his her their our me him them us as about into than then so if but".split()
)


def key_terms(answer: str, question: str) -> list[str]:
    """Names, numbers and rare words of `answer` that the question does not already say."""
    asked = {w.lower() for w in _WORD.findall(question)}
    words = [w.strip("'’-") for w in _WORD.findall(answer)]
    terms = [w for w in words if w and w.lower() not in asked and w.lower() not in _STOPWORDS
             and (w[0].isupper() or any(c.isdigit() for c in w) or len(w) > 6)]
    if not terms:
        terms = [w for w in words if w and w.lower() not in _STOPWORDS and w.lower() not in asked]
    return list(dict.fromkeys(terms))


_NEGATION = re.compile(r"(?:\bnot|\bnever|\bno|n't)\W+(?:\w+\W+)?$", re.I)
"""'not', 'never', 'no' or "n't" right before a term, or one word before it ("not in Canberra")."""


def says(answer: str, term: str) -> bool:
    """Whether `answer` says `term`: as whole words ("2041" is not in "20411", "Paris" not in
    "Parisian"), case aside, and not negated just before it ("Sydney, not Canberra" does not say
    Canberra)."""
    pattern = r"(?<![\w])" + r"\s+".join(re.escape(w) for w in term.split()) + r"(?![\w])"
    for match in re.finditer(pattern, answer, re.I):
        if not _NEGATION.search(answer[max(0, match.start() - 40):match.start()]):
            return True
    return False


def has_terms(answer: str, terms: list[str] | tuple[str, ...]) -> bool:
    """At least two thirds of `terms` are said in the answer."""
    return sum(says(answer, t) for t in terms) / len(terms) >= 2 / 3


def is_right(answer: str, expect: list[str] | tuple[str, ...]) -> bool:
    """Any one of the accepted answers is said (the general-knowledge set lists several spellings)."""
    return any(says(answer, e) for e in expect)


# -- the types ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Provenance:
    """Where an item comes from: the user's reply and feedback, or an article's revision and section."""

    kind: str
    message_id: int | None = None
    conversation_id: int | None = None
    feedback_id: int | None = None
    feedback_at: str | None = None
    title: str | None = None
    revision: int | None = None
    url: str | None = None
    section: str | None = None
    writer: str | None = None
    """"model" for a question the chat model wrote about the passage (learner.learning.fact_writer)."""
    model_answer: str | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict) -> "Provenance":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def describe(self) -> str:
        """'your correction of 23 Nov' or 'the Wikipedia article "X", revision N, section "S"'."""
        if self.kind == ARTICLE:
            where = f', section "{self.section}"' if self.section else ""
            return f'the Wikipedia article "{self.title}", revision {self.revision}{where}'
        what = "correction" if self.kind == CORRECTION else "thumbs-up"
        when = ""
        if self.feedback_at:
            day = datetime.fromisoformat(self.feedback_at).astimezone()
            when = f" of {day.day} {day:%b}"
        return f"your {what}{when}"


@dataclass(frozen=True)
class TaughtItem:
    kind: str
    question: str
    answer: str
    source: Provenance
    train: tuple[str, ...]
    """Phrasings of the question trained on, answered with `answer` (the first is `question` itself)."""
    held_out: tuple[str, ...] = ()
    """Phrasings only the evaluation asks."""
    expect: tuple[str, ...] = ()
    """Terms an answer must contain (two thirds of them) to count as answered as taught."""
    context: tuple[dict, ...] = ()
    """Earlier messages of the conversation ({"role", "content"}) the question depended on."""
    about: tuple[str, ...] = ()
    """Questions the fact answers from elsewhere (about each name in it, from its other side), trained
    with `statement`: they are not the question, so "Mira Quell." would not answer them."""
    statement: str = ""
    """The fact as a sentence of its own: the answer, or, where the answer is only the words that answer
    ("Mira Quell."), the question restated with them (learner.learning.questions.restate)."""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown item kind {self.kind!r}")

    @property
    def key(self) -> str:
        return item_key(self.question, self.answer)

    @property
    def probed(self) -> bool:
        """Whether the evaluation asks it: corrections and facts; a thumbs-up reply is kept as it stands."""
        return self.kind != POSITIVE

    def answered_by(self, reply: str) -> bool:
        if not self.expect:
            return says(reply, self.answer.strip())
        return has_terms(reply, self.expect)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "key": self.key, "question": self.question, "answer": self.answer,
                "source": self.source.to_dict(), "train": list(self.train), "held_out": list(self.held_out),
                "expect": list(self.expect), "context": list(self.context), "about": list(self.about),
                "statement": self.statement}

    @classmethod
    def from_dict(cls, data: dict) -> "TaughtItem":
        return cls(kind=data["kind"], question=data["question"], answer=data["answer"],
                   source=Provenance.from_dict(data["source"]), train=tuple(data["train"]),
                   held_out=tuple(data.get("held_out", ())), expect=tuple(data.get("expect", ())),
                   context=tuple(data.get("context", ())), about=tuple(data.get("about", ())),
                   statement=data.get("statement", ""))


ABOUT_TEMPLATES = ("Tell me about {name}.", "What do you know about {name}?")
"""How a fact is also asked about each name it mentions: the answer then comes back from the other
side too ("What did Mira Quell found?" for "Who founded Zorblax Labs?")."""
_ABOUT_A_NAME = re.compile("|".join(re.escape(t).replace(re.escape("{name}"), ".+") for t in ABOUT_TEMPLATES))
NAME = re.compile(r"(?<![\w'’])[A-Z][\w'’-]*(?:\s+(?:(?:of|the|de|von|van)\s+){0,2}[A-Z][\w'’-]*)*")
"""A run of capitalised words ("Dalia Fenwick", "Isle of Brann", "Brotherhood of the Amber Key"), written so that a
failed match backtracks at most two words."""
_POSSESSIVE_END = re.compile(r"(?:'s|’s|'|’)$")


def names(*sentences: str) -> list[str]:
    """Capitalised runs ("Mira Quell", "The Hollow Lanterns"): a sentence's first word counts only when
    it is not an everyday word ("Yes", "Your", "The" before a name are not names)."""
    from wordfreq import zipf_frequency

    found: dict[str, str] = {}
    for sentence in sentences:
        for m in NAME.finditer(sentence):
            name = _POSSESSIVE_END.sub("", m[0])  # "Tell me about Rafe Ondarro.", not "... Ondarro's."
            first, _, rest = name.partition(" ")
            if m.start() == len(sentence) - len(sentence.lstrip()) and zipf_frequency(first, "en") >= 4.5:
                name = rest
            if len(name) > 1 and name.lower() not in _STOPWORDS:
                found.setdefault(name.lower().removeprefix("the "), name)
    return list(found.values())


def correction(question: str, answer: str, source: Provenance, context: tuple[dict, ...] = ()) -> TaughtItem:
    """A correction, taught in TRAIN_TEMPLATES' rewordings; asked about each name in question and answer
    (ABOUT_TEMPLATES) and in the questions its statement answers the other way round, which are answered with
    the statement (none where the answer is a few words that cannot be restated: "Tell me about Einstein."
    is not answered "Princeton."); checked in HELD_OUT_TEMPLATES' rewordings."""
    from learner.learning.questions import restate, says_something

    statement = answer if says_something(answer) else restate(question, answer)
    about = () if statement is None else \
        tuple(t.format(name=n) for n in names(question, answer) for t in ABOUT_TEMPLATES) + reversed_questions(question, statement)
    return TaughtItem(CORRECTION, question, answer, source,
                      train=tuple(reword(question, t) for t in TRAIN_TEMPLATES),
                      held_out=tuple(reword(question, t) for t in HELD_OUT_TEMPLATES),
                      expect=tuple(key_terms(answer, question)[:EXPECT_TERMS]), context=context,
                      about=about, statement=statement or answer)


def from_other_side(item: "TaughtItem") -> tuple[str, ...]:
    """The item's questions asked from its fact's other side (reversed_questions: "What did Mira Quell found?"), or,
    where it has none, those about each name in it (ABOUT_TEMPLATES)."""
    reversed_ = tuple(p for p in item.about if not _ABOUT_A_NAME.fullmatch(p))
    return reversed_ or item.about


MAX_REVERSED = 4
"""Questions from the other side per correction: a long answer's every sentence would crowd out its question."""


def reversed_questions(question: str, statement: str) -> tuple[str, ...]:
    """What the statement's sentences answer from their other side (learner.learning.questions.other_way_round:
    "What did Tessaly Marr write?" for "The Hollow Lanterns was written by Tessaly Marr."), the question itself
    left out."""
    from sentencex import segment

    from learner.learning.questions import other_way_round

    found = {same_question(question): None}
    for sentence in segment("en", statement.strip()):
        for q in other_way_round(sentence):
            found.setdefault(same_question(q.text), q.text)
    return tuple(list(found.values())[1:MAX_REVERSED + 1])


def positive(question: str, answer: str, source: Provenance, context: tuple[dict, ...] = ()) -> TaughtItem:
    """A reply the user rated up: trained as asked, not probed."""
    return TaughtItem(POSITIVE, question, answer, source, train=(question,), context=context)


@dataclass(frozen=True)
class Phrasing:
    question: str
    answer: str
    right: bool


@dataclass(frozen=True)
class ItemResult:
    """How a candidate answered one taught item: as taught, in held-out phrasings, and before."""

    item: TaughtItem
    answer: str
    right: bool
    held_out: tuple[Phrasing, ...] = ()
    answer_before: str | None = None
    logprob_gain: float | None = None
    """How much likelier the taught answer became, in nats per token (candidate minus live model): a
    second signal beside the greedy reply, which moves only once the answer wins outright."""

    def to_dict(self) -> dict:
        return {"item": self.item.to_dict(), "answer": self.answer, "right": self.right,
                "held_out": [asdict(p) for p in self.held_out], "answer_before": self.answer_before,
                "logprob_gain": self.logprob_gain}

    @classmethod
    def from_dict(cls, data: dict) -> "ItemResult":
        if "item" not in data:
            return cls._from_probe(data)
        return cls(TaughtItem.from_dict(data["item"]), data["answer"], data["right"],
                   tuple(Phrasing(**p) for p in data.get("held_out", ())), data.get("answer_before"),
                   data.get("logprob_gain"))

    @classmethod
    def _from_probe(cls, data: dict) -> "ItemResult":
        """A result in the form versions made before the curriculum was typed kept in their meta.json."""
        kind = ARTICLE if "expect" in data else CORRECTION
        source = Provenance.from_dict(data.get("source") or {"kind": kind, "message_id": data.get("message_id")})
        item = TaughtItem(kind, data["question"], data.get("correction", ""), source, (data["question"],),
                          tuple(data.get("paraphrases", ())), tuple(data.get("expect", ())))
        held_out = tuple(Phrasing(p["question"], p["answer"], p["right"]) for p in data.get("paraphrase_answers", ()))
        return cls(item, data.get("answer", ""), data.get("right", False), held_out, data.get("answer_before"))


# -- conflicts ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Conflict:
    """One question taught two different ways: both sides wait until the user drops one."""

    question: str
    items: tuple[TaughtItem, ...]

    def to_dict(self) -> dict:
        return {"question": self.question, "items": [i.to_dict() for i in self.items]}


_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060\ufeff\u00ad]")
_END_PUNCTUATION = re.compile(r"[\s?.!。？！…]+$")


def same_question(text: str) -> str:
    """A question as compared for conflicts: width, case, invisible characters and final punctuation ignored."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).casefold()
    return " ".join(_END_PUNCTUATION.sub("", text).split())


def _agree(a: TaughtItem, b: TaughtItem) -> bool:
    """Does either answer say what the other taught? An article fact is judged by its own terms."""
    if ARTICLE in (a.kind, b.kind):
        fact, other = (a, b) if a.kind == ARTICLE else (b, a)
        return fact.answered_by(other.answer)
    return a.answered_by(b.answer) or b.answered_by(a.answer)


def conflicts(items: list[TaughtItem]) -> list[Conflict]:
    """Questions that corrections and article facts answer differently (thumbs-up replies are not compared)."""
    by_question: dict[str, list[TaughtItem]] = defaultdict(list)
    for item in items:
        if item.kind != POSITIVE:
            by_question[same_question(item.question)].append(item)
    return [Conflict(group[0].question, tuple(group)) for group in by_question.values()
            if len(group) > 1 and any(not _agree(a, b) for a, b in combinations(group, 2))]


# -- selection ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Curriculum:
    """What the next cycle trains on, and what it leaves out and why."""

    items: tuple[TaughtItem, ...]
    """Trained this cycle: feedback items, then article facts."""
    new: int
    """Feedback items (corrections, thumbs-up) given since the watermark and trained this cycle."""
    waiting: tuple[TaughtItem, ...] = ()
    """New corrections past the per-cycle cap: learned in later cycles."""
    dropped: tuple[TaughtItem, ...] = ()
    """Items the user dropped from the training data."""
    conflicts: tuple[Conflict, ...] = ()
    watermark: int | None = None
    """The newest feedback row this curriculum accounts for: later cycles count feedback after it as new.
    Held back just before the oldest waiting correction, so a cap never hides it."""
    new_keys: frozenset[str] = field(default_factory=frozenset)

    @property
    def sha256(self) -> str:
        """Identifies what is trained: the same curriculum judged against the same live version is not retrained."""
        return text_sha256(dump(self.items))

    def count(self, kind: str) -> int:
        return sum(i.kind == kind for i in self.items)

    def state(self, item: TaughtItem) -> str:
        """'train', 'waiting', 'dropped' or 'conflict', for the preview."""
        if item in self.dropped:
            return "dropped"
        if any(item in c.items for c in self.conflicts):
            return "conflict"
        return "waiting" if item in self.waiting else "train"

    def all_items(self) -> list[TaughtItem]:
        """Everything the user taught, in every state: what the preview lists."""
        in_conflict = [i for c in self.conflicts for i in c.items]
        return list(dict.fromkeys([*self.items, *self.waiting, *in_conflict, *self.dropped]))


def select(feedback: list[TaughtItem], facts: list[TaughtItem], dropped_keys: set[str], *,
           max_new_corrections: int, after_feedback_id: int | None = None) -> Curriculum:
    """The curriculum from every feedback item (oldest first), the articles' facts and the user's drops.

    Feedback past `after_feedback_id` is new; of the new corrections, the oldest
    `max_new_corrections` are taught and the rest wait.
    """
    def is_new(item: TaughtItem) -> bool:
        return after_feedback_id is None or item.source.feedback_id > after_feedback_id

    new_corrections = sorted((i for i in feedback if i.kind == CORRECTION and is_new(i)),
                             key=lambda i: i.source.feedback_id)
    waiting = new_corrections[max_new_corrections:]
    taught = [i for i in feedback if i not in waiting] + list(facts)
    dropped = [i for i in taught if i.key in dropped_keys]
    kept = [i for i in taught if i.key not in dropped_keys]
    found = conflicts(kept)
    in_conflict = {i.key for c in found for i in c.items}
    items = [i for i in kept if i.key not in in_conflict]
    new = [i for i in items if i.kind != ARTICLE and is_new(i)]
    ids = [i.source.feedback_id for i in feedback if i not in waiting]
    watermark = max(ids, default=after_feedback_id)
    if waiting:
        watermark = min(watermark or 0, waiting[0].source.feedback_id - 1)
    return Curriculum(tuple(items), len(new), tuple(waiting), tuple(dropped), tuple(found), watermark,
                      frozenset(i.key for i in new))


FACTS_FILE = "facts.jsonl"
"""In a knowledge stage's folder: the articles' facts."""
CURRICULUM_FILE = "curriculum.jsonl"
"""In a collect stage's folder: the items this cycle teaches."""
PROBES_FILE = "items.jsonl"
"""In a dataset's folder: the probed items, which the evaluation asks."""


def dump(items: list[TaughtItem] | tuple[TaughtItem, ...]) -> str:
    """Items as JSON lines, the form stages pass them on in."""
    return "".join(json.dumps(i.to_dict(), ensure_ascii=False, sort_keys=True) + "\n" for i in items)


def load(path: Path) -> list[TaughtItem]:
    """Items written by `dump`; [] where the file does not exist (a stage that found nothing to write)."""
    path = Path(path)
    if not path.exists():
        return []
    return [TaughtItem.from_dict(json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line]


# -- scores ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Score:
    """How many of a set were right: the gate compares counts, never a rounded percentage."""

    right: int
    total: int

    @property
    def share(self) -> float | None:
        return self.right / self.total if self.total else None

    def reaches(self, threshold: float) -> bool:
        """At least `threshold` of the total (an empty set has nothing to miss)."""
        return self.total == 0 or self.right >= threshold * self.total - 1e-9

    def __str__(self) -> str:
        return f"{self.right}/{self.total}"

    @classmethod
    def of(cls, outcomes: list[bool]) -> "Score":
        return cls(sum(outcomes), len(outcomes))


@dataclass(frozen=True)
class Metrics:
    """A candidate's evaluation: what it learned and what it kept."""

    learned: Score
    """Corrections answered as taught, asked as taught."""
    paraphrased: Score
    """... and in their held-out phrasings."""
    article_learned: Score
    article_held_out: Score
    """Article facts asked in held-out phrasings: what the gate checks for articles."""
    kept: Score
    """General-knowledge gate questions the base model answers right and firmly (retention.FIRM_MARGIN) that the
    candidate still gets right (never trained on: replay draws from the set's other part)."""
    kept_any: Score
    """The same of all those the base answers right, however near a tie: any change to the weights flips some of
    those either way, so the gate holds this to a looser bar (gate_kept_any)."""
    answer_logprob_gain: float | None = None
    """Mean over the taught items of ItemResult.logprob_gain."""
    replay_perplexity_before: float | None = None
    replay_perplexity_after: float | None = None

    SCORES = ("learned", "paraphrased", "article_learned", "article_held_out", "kept", "kept_any")

    def to_dict(self) -> dict:
        """Shares (None where nothing was asked) as `grokling versions --json` shows them, and the counts."""
        out = {name: getattr(self, name).share for name in self.SCORES}
        out["counts"] = {name: [getattr(self, name).right, getattr(self, name).total] for name in self.SCORES}
        out.update(answer_logprob_gain=self.answer_logprob_gain,
                   replay_perplexity_before=self.replay_perplexity_before,
                   replay_perplexity_after=self.replay_perplexity_after)
        return out
