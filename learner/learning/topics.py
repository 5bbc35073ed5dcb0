"""What the user keeps asking about: topics mined from their own messages.

Candidates in a message are its named things (runs of capitalised words: "Mira Quell",
"Zorblax Labs") and its noun-like phrases (runs of content words between stopwords, as in
RAKE). Only the user's messages count, never the assistant's. A topic's score adds, per
message that mentions it, a recency weight that halves every `half_life_days`, multiplied
by `1 + bad_reply_boost` where the reply to that message did badly: a thumbs-down, a
correction, or a dodge ("I don't know"). Mining recomputes the counts from the messages;
the user's approvals, blocks and additions survive it.

    grokling topics [--approve NAME] [--block NAME] [--add NAME] [--json]
"""

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache

from learner.privacy import cleaner
from learner.settings import Settings
from learner.store import NotFoundError, Store
from learner.store import learning as learning_store

STOPWORDS = frozenset("""
a about above after again against all also am an and any are aren't as at be because been before being below
between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during each
few for from further had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers herself
him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself let's me more most mustn't
my myself no nor not of off on once only or other ought our ours ourselves out over own same shan't she she'd
she'll she's should shouldn't so some such than that that's the their theirs them themselves then there
there's these they they'd they'll they're they've this those through to too under until up very was wasn't we
we'd we'll we're we've were weren't what what's when when's where where's which while who who's whom why
why's will with won't would wouldn't you you'd you'll you're you've your yours yourself yourselves
""".split())
FILLER = frozenset("""
tell explain describe compare give show help please thanks thank know knows known think mean means want
wants need needs like make makes use used using get got say said says ask asked answer question questions
thing things something anything everything nothing lot lots way ways good bad great nice really just also
much many well still even ever yes yeah ok okay hi hello hey sure maybe probably actually again
one two first last new old time times today yesterday tomorrow now let write list find work works
can could would should will may might must shall does did done doing go going come coming see look
kind sort type bit little big long short right wrong true false better best more less other another
tonight morning evening afternoon night week weekend month year monday tuesday wednesday thursday friday
saturday sunday january february march april may june july august september october november december
""".split())
CONNECTORS = frozenset({"of", "de", "von", "van", "der", "del", "la", "le", "du", "the", "and", "&"})
DODGES = re.compile(
    r"\b(i (?:do not|don't|dont) know|i'?m not sure|i am not sure|i (?:do not|don't) have (?:any )?information|"
    r"i (?:cannot|can't|can not) (?:help|answer|provide|find)|i'?m not familiar|i am not familiar|"
    r"no information (?:about|on))\b", re.IGNORECASE)
_TOKEN = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ][\w'’-]*|[.!?;:,()\"\[\]{}]|\d[\d,.]*")
_SENTENCE_END = frozenset(".!?;:")
COMMON_ZIPF = 4.5
"""A single word this common or more (Zipf 4.5: once in 30,000 words; "music", "week", "bread") is too
general a subject to look up, unless the user capitalised it mid-sentence."""
PHRASE_ZIPF = 5.0
"""A phrase needs one word rarer than this: "green plants" and "healthy food" are subjects, "next week" is not."""
VERB_ZIPF = 4.0
"""A word that is only ever a verb or an adverb opens no name from this commonness on ("went", "visited",
"eat"); rarer ones may be part of one ("the quell drive")."""


@dataclass
class Topic:
    key: str
    name: str
    status: str
    mentions: int
    bad_replies: int
    score: float
    first_seen: str | None
    last_seen: str | None
    example_message_ids: list[int]
    article_title: str | None
    flag: str | None = None
    """Why it is never searched for without the user's approval (`flag`), or None."""

    def why(self) -> str:
        parts = [f"{self.flag}: read about only if you approve it"] if self.flag and self.status == "mined" else []
        if self.mentions:
            parts.append(f"asked about in {self.mentions} message{'s' if self.mentions != 1 else ''}")
        if self.bad_replies:
            parts.append(f"{self.bad_replies} repl{'ies' if self.bad_replies != 1 else 'y'} went badly "
                         "(thumbs-down, corrected or 'I don't know')")
        if self.status in ("approved", "added"):
            parts.append(f"{self.status} by you")
        elif self.status == "blocked":
            parts.append("blocked by you: never read about")
        return "; ".join(parts)


PERSON, HEALTH = "looks like a person's name", "looks like a health matter"
HEALTH_TERMS = frozenset("""
abortion addiction adhd aids alcoholism alzheimer alzheimer's anorexia antidepressant antidepressants anxiety
arthritis asthma autism bipolar bulimia cancer chemo chemotherapy chlamydia contraception covid dementia
depression diabetes diabetic diagnosis dialysis disease disorder epilepsy gonorrhea herpes hiv illness infection
infertility insulin ivf leukaemia leukemia lupus lymphoma medication melanoma migraine miscarriage obesity
overdose parkinson parkinson's pregnancy pregnant prescription psychiatrist psychosis radiotherapy rehab
schizophrenia std sti stroke suicide symptom symptoms syndrome syphilis therapist therapy transplant tumor tumour
""".split())
"""Words of illnesses, treatments and private health matters: a topic with one waits for approval."""
HEALTH_ENDINGS = ("itis", "osis", "aemia", "emia", "ectomy")
GIVEN_NAME_ZIPF = 2.5
"""A word English text uses (Zipf 2.5 and up) that is in no English dictionary sense is most often a name."""


def flag(name: str) -> str | None:
    """PERSON or HEALTH where a topic must never be searched for without the user's approval (even with
    auto_approve_topics), else None. A person's name: two or three words, the first a given name (a word
    English text uses often enough that lemminflect's English lexicon does not know: "Dana", "Priya",
    "Barack"; coined names like "Zorblax" are too rare), the last capitalised or no dictionary word.
    Place names are taken for people at times ("Berlin Wall"): they only wait for the user's approval."""
    written = re.findall(r"[^\W\d_]+(?:['’][^\W\d_]+)?", name)
    words = [w.lower() for w in written]
    if any(w in HEALTH_TERMS or (len(w) > 6 and w.endswith(HEALTH_ENDINGS)) for w in words):
        return HEALTH
    surname = all(w[:1].isupper() for w in written) or not _tags(words[-1])  # not "Byzantine mosaics"
    if 2 <= len(words) <= 3 and not _tags(words[0]) and zipf(words[0]) >= GIVEN_NAME_ZIPF and surname:
        return PERSON
    return None


def normalise(name: str) -> str:
    return " ".join(re.sub(r"['’]s\b", "", name).lower().split())


def zipf(word: str) -> float:
    """How common an English word is: wordfreq's Zipf scale, 0 (unseen) to about 7.5 ("the")."""
    return _zipf(word.lower())


@lru_cache(maxsize=65536)
def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


@lru_cache(maxsize=65536)
def _tags(word: str) -> frozenset[str]:
    """The parts of speech an English word can be (lemminflect's lexicon); empty for a word it does not
    know: a name, a coined word, a rare term."""
    from lemminflect import getAllLemmas

    return frozenset(getAllLemmas(word.lower()))


def _noun_like(word: str) -> bool:
    """Whether a word can end a noun phrase: a noun, or a word no English dictionary sense covers (a name)."""
    tags = _tags(word)
    return not tags or bool(tags & {"NOUN", "PROPN"})


def _opens_a_name(word: str) -> bool:
    """Whether a word can begin a noun phrase: anything but a common verb or adverb ("went", "visited",
    "eat"); a rare one may be part of a name ("the quell drive")."""
    return _noun_like(word) or "ADJ" in _tags(word) or zipf(word) < VERB_ZIPF


def _specific(words: list[str]) -> bool:
    """A single noun rarer than everyday words, or a phrase with at least one word that is not everyday."""
    if len(words) == 1:
        return _noun_like(words[0]) and zipf(words[0]) < COMMON_ZIPF and len(words[0]) >= 3
    return min(zipf(w) for w in words) < PHRASE_ZIPF


def candidates(text: str) -> dict[str, str]:
    """{key: surface form} for the named things and noun-like phrases of one message.

    Named things are runs of capitalised words; at the start of a sentence, where every word is
    capitalised, a word counts only if it could open a name, and a lone one only if it is specific.
    Noun-like phrases are runs of content words, trimmed to start where a name could start and to
    end on a noun ("went hiking" -> nothing, "eat healthy food" -> "healthy food"); a single word
    must be a noun rarer than everyday ones, and a phrase must have one word that is not everyday.
    """
    tokens = _TOKEN.findall(text)
    found: dict[str, str] = {}

    def keep(words: list[str]) -> None:
        while words and words[-1].lower() in CONNECTORS:
            words = words[:-1]
        content = [w for w in words if w.lower() not in CONNECTORS]
        if not content or all(w.lower() in STOPWORDS or w.lower() in FILLER for w in content):
            return
        if len(content) == 1 and (len(content[0]) < 3 or content[0].lower() in FILLER):
            return
        name = " ".join(words)
        found.setdefault(normalise(name), name)

    # Named things: capitalised runs; a sentence's first word only when it could open a name.
    run: list[str] = []
    run_opens_sentence = False
    sentence_start = True
    for token in tokens + ["."]:
        capital = token[:1].isupper() and len(token) > 1
        low = token.lower()
        if capital and not (sentence_start and (low in STOPWORDS or low in FILLER or not _opens_a_name(token))):
            run_opens_sentence = run_opens_sentence or (sentence_start and not run)
            run.append(token)
        elif run and low in CONNECTORS and token[:1].islower():
            run.append(token)
        else:
            if run and not (run_opens_sentence and len(run) == 1 and not _specific(run)):
                keep(run)
            run, run_opens_sentence = [], False
        sentence_start = token in _SENTENCE_END
    named = set(found)
    # Noun-like phrases: runs of content words between stopwords and punctuation, up to three words.
    phrase: list[str] = []
    for token in tokens + ["."]:
        low = token.lower()
        if low in STOPWORDS or low in FILLER or not token[:1].isalpha():
            while phrase and not _opens_a_name(phrase[0]):
                phrase = phrase[1:]
            while phrase and not _noun_like(phrase[-1]):
                phrase = phrase[:-1]
            if 1 <= len(phrase) <= 3 and _specific(phrase):
                keep([w.lower() for w in phrase])
            phrase = []
        else:
            phrase.append(token)
    # A phrase that goes on from a one-word name names the thing better ("Byzantine mosaics");
    # otherwise it is the name with a verb or adjective stuck on ("founded zorblax labs",
    # "mira quell famous"), or a piece of it: a name of several capitalised words is whole already.
    for phrase_key in [k for k in found if k not in named]:
        for name in named & found.keys():
            if phrase_key != name and re.search(rf"\b{re.escape(phrase_key)}\b", name):
                del found[phrase_key]  # a part of a name ("mira" of "Mira Quell")
                break
            if phrase_key == name or not re.search(rf"\b{re.escape(name)}\b", phrase_key):
                continue
            if phrase_key.startswith(name + " ") and " " not in name:
                found[phrase_key] = found.pop(name) + phrase_key[len(name):]
            else:
                del found[phrase_key]
            break
    return found


def _age_days(stamp: str, at: datetime) -> float:
    return max(0.0, (at - datetime.fromisoformat(stamp)).total_seconds() / 86400)


def mine(store: Store, settings: Settings | None = None, at: datetime | None = None, bad_reply_boost: float = 1.0) -> int:
    """Recompute every topic's counts from the user's messages; the number of topics with mentions.

    Opted-out conversations are skipped (every conversation with learn_from_chats off), and
    messages are scrubbed of personal data first: an e-mail address never becomes a topic
    that is searched for on Wikipedia.
    """
    settings = settings or Settings()
    at = at or datetime.now(timezone.utc)
    rows = learning_store.user_messages_for_topics(store, settings.learn_from_chats)
    clean = cleaner(settings)
    score: Counter = Counter()
    mentions: Counter = Counter()
    bad: Counter = Counter()
    surface: dict[str, Counter] = defaultdict(Counter)
    seen: dict[str, list[str]] = {}
    examples: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        went_badly = row["rating"] < 0 or row["corrected"] or bool(row["reply"] and DODGES.search(row["reply"]))
        weight = 0.5 ** (_age_days(row["created_at"], at) / settings.topic_half_life_days) * (1 + bad_reply_boost * went_badly)
        text = clean(row["content"])
        for key, name in candidates(text).items():
            score[key] += weight
            mentions[key] += 1
            bad[key] += went_badly
            surface[key][name] += 1
            first, _ = seen.get(key, (row["created_at"], None))
            seen[key] = (first, row["created_at"])
            if len(examples[key]) < 3:
                examples[key].append(row["id"])
    counts = []
    for key in score:
        # The capitalised spelling when the user ever wrote one: "Zorblax Labs", not "zorblax labs".
        name = max(surface[key].items(), key=lambda kv: (kv[0] != kv[0].lower(), kv[1]))[0]
        counts.append({"key": key, "name": name, "mentions": mentions[key], "bad_replies": bad[key],
                       "score": round(score[key], 4), "first_seen": seen[key][0], "last_seen": seen[key][1],
                       "example_message_ids": examples[key]})
    learning_store.save_topic_counts(store, counts)
    return len(score)


def _topic(row: dict) -> Topic:
    return Topic(key=row["key"], name=row["name"], status=row["status"], mentions=row["mentions"],
                 bad_replies=row["bad_replies"], score=row["score"], first_seen=row["first_seen"],
                 last_seen=row["last_seen"], example_message_ids=json.loads(row["example_message_ids"]),
                 article_title=row["article_title"], flag=flag(row["name"]))


def listing(store: Store, limit: int = 50) -> list[Topic]:
    """The user's added and approved topics, then the mined ones by score; blocked ones last."""
    return [_topic(r) for r in learning_store.topic_rows(store, limit)]


def to_learn(store: Store, settings: Settings) -> list[Topic]:
    """Topics whose articles the next cycle reads (at most topics_per_cycle): the ones the user added or
    approved; with auto_approve_topics, then the strongest mined ones with topic_min_mentions mentions
    that look like neither a person's name nor a health matter. A blocked topic never is."""
    rows = learning_store.topics_to_learn(store, settings.topic_min_mentions, settings.auto_approve_topics)
    chosen = [t for t in map(_topic, rows) if t.status != "mined" or t.flag is None]
    return chosen[:settings.topics_per_cycle]


def set_status(store: Store, name: str, status: str) -> Topic:
    """Approve or block a known topic, or add one the user names (status 'added')."""
    key = normalise(name)
    if not key:
        raise ValueError("a topic needs a name")
    if status == "added":
        learning_store.add_topic(store, key, " ".join(name.split()))
    elif not learning_store.set_topic_status(store, key, status):
        raise NotFoundError(f"no topic {name!r} (see `grokling topics`; --add names a new one)")
    return _topic(learning_store.topic_row(store, key))


def set_article(store: Store, key: str, title: str) -> None:
    """Remember the article a topic resolved to ('' for none), so it is not searched for again."""
    learning_store.set_topic_article(store, key, title)
