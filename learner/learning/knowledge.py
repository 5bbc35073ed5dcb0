"""Stage: the articles on what the user talks about, turned into grounded question/answer facts.

Run as: python -m learner.learning.knowledge [--out DIR]

Without `wikipedia_consent` the stage sends nothing anywhere: it mines topics, writes no facts and
says how to agree. With it:

1. Mine topics from the user's messages (learner.learning.topics) and pick those to learn: the
   ones the user added or approved (and, with `auto_approve_topics`, mined ones), never a blocked one.
2. Resolve each to a Wikipedia article (cached per topic) and look up its latest revision;
   fetch it only when that revision is not already in the database. A failure on one
   topic or article is recorded and skipped: it never fails the cycle.
3. Clean each article (references, markup leftovers, reference sections, list-like
   sections; stubs and lists skipped) and write facts: what the lead says the subject is,
   what each section opens with, and sentences that state when, where, by whom, how many.
   Every answer is a sentence of the article, so it is grounded by construction; each fact
   has phrasings to train on and phrasings held out for the evaluation, and its provenance
   (article, revision, section, URL).

Writes facts.jsonl and meta.json (articles used, failures, counts) into the output folder.
"""

import argparse
import json
import re
import time
from dataclasses import replace
from pathlib import Path

from learner.chat.engine import Engine
from learner import gpu
from learner.chat.served import ModelChoice
from learner.files import text_sha256, write_meta
from learner import items as taught
from learner.items import ARTICLE, EXPECT_TERMS, Provenance, TaughtItem, key_terms
from learner.learning import fact_writer, questions, topics
from learner.learning.stage import progress
from learner.learning.wiki import Article, WikiClient, WikiError
from learner.store import Store
from learner.store import learning as learning_store

SKIPPED_SECTIONS = frozenset({
    "references", "external links", "see also", "further reading", "notes", "bibliography", "sources",
    "citations", "footnotes", "gallery", "explanatory notes", "works cited", "selected works", "discography",
    "filmography"})
MIN_ARTICLE_WORDS = 40
"""Fewer words than this after cleaning: a stub, not worth training on."""
MAX_SENTENCE_CHARS = 300
MAX_SECTIONS = 8
SENTENCES_PER_SECTION = 4
LEAD_SENTENCES = 3
"""The lead's sentences taught as the answer to "Tell me about X" (at most MAX_LEAD_CHARS of them)."""
MAX_LEAD_CHARS = 600
GENERATOR = "questions-2"
"""Bump when the fact templates change, so cached knowledge is rebuilt."""
CONSENT_NEEDED = ("Wikipedia reading is off until you agree: grokling topics --consent yes "
                  "(or the learning panel's Topics tab)")
NOTHING_APPROVED = "no topic to read about yet: approve one (grokling topics --approve NAME) or add your own"

_REFERENCE = re.compile(r"\[(?:\d+|[a-z]|citation needed|clarification needed|when\?|who\?|note \d+)\]", re.I)
_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")
_PRONUNCIATION = re.compile(r"\s*\((?:[^()]*(?:pronounced|pronunciation|listen|IPA|/[^/]+/)[^()]*)\)")
_HEADING = re.compile(r"^=+[^=]+=+\s*$", re.M)
_YEAR = re.compile(r"\b(1[0-9]{3}|2[0-9]{3})\b")
PERSON_HINTS = re.compile(r"\(born\b|\bborn\b|\(\d{3,4}\s*[–-]\s*\d{3,4}\)|\bwas an? (?:[A-Z]\w+ )*(?:actor|actress|"
                          r"writer|author|poet|painter|scientist|physicist|chemist|mathematician|engineer|inventor|"
                          r"politician|singer|musician|composer|philosopher|explorer|king|queen|emperor|athlete|"
                          r"footballer|player|director|businessman|businesswoman|entrepreneur)\b")


def clean(text: str) -> str:
    text = _REFERENCE.sub("", text)
    for _ in range(3):  # nested templates
        text = _TEMPLATE.sub("", text)
    text = _PRONUNCIATION.sub("", text)
    text = _HEADING.sub("", text)
    text = text.replace("\u00a0", " ")
    return re.sub(r"[ \t]+", " ", re.sub(r"\s*\n\s*", "\n", text)).strip()


def sentences(text: str) -> list[str]:
    """Prose sentences of a cleaned paragraph block; list-like lines (no verb-ending period) are dropped.

    sentencex (Wikimedia's segmenter, written for Wikipedia's text) splits them: initials ("J. R. R.
    Tolkien"), abbreviations, decimals and quotations stay inside their sentence."""
    from sentencex import segment

    out: list[str] = []
    for line in text.split("\n"):
        if len(line.split()) < 6 or not line.rstrip().endswith((".", "!", "?")):
            continue  # a list item, caption or heading leftover
        out += [s.strip() for s in segment("en", line)]
    return [s for s in out if 5 <= len(s.split()) and len(s) <= MAX_SENTENCE_CHARS]


def is_person(lead: list[str]) -> bool:
    """Whether an article is on a person, from its lead's first sentence ("(born 1958)", "was an English writer")."""
    return bool(lead) and bool(PERSON_HINTS.search(lead[0]))


def _with_subject(sentence: str, title: str, person: bool) -> str:
    """'It was founded in 2041.' -> 'Zorblax Labs was founded in 2041.' and 'Its centre is ...' ->
    "Zorblax Labs's centre is ...", so an answer stands alone. A person is 'He' or 'She'; anything else is 'It',
    'They' or 'The <what it is>' ('The archipelago' of the Harrowmere Archipelago, 'The species')."""
    head = re.escape(title.split()[-1].lower())
    subject = r"He|She" if person else rf"It|They|The (?:{questions.SUBJECT_NOUNS}|(?i:{head}))"
    possessive = r"His|Her" if person else r"Its|Their"
    # functions, not replacement templates: a title is text
    sentence = re.sub(rf"^(?:{subject})\b", lambda _: title, sentence)
    return re.sub(rf"^(?:{possessive})\b", lambda _: f"{title}'s", sentence)


def _fact(question: str, answer: str, train: list[str], held_out: list[str], source: Provenance,
          slot: str | None = None) -> TaughtItem | None:
    """A fact whose check is the key terms of `slot` (what the question asks for) or else of the answer."""
    expect = key_terms(slot or answer, question)[:EXPECT_TERMS]
    if not expect:
        return None
    return TaughtItem(ARTICLE, question, answer, source, tuple([question, *train]), tuple(held_out), tuple(expect))


def _lead_facts(article: Article, lead: list[str], source: Provenance) -> list[TaughtItem]:
    """What the subject is (the lead's first sentence), and the lead itself as the answer to "Tell me about X"."""
    if not lead:
        return []
    title, first = article.title, lead[0]
    verb = "was" if re.search(rf"^{re.escape(title)}[^.]*?\bwas\b", first) else "is"
    who = "Who" if PERSON_HINTS.search(first) else "What"
    about = " ".join(lead[:LEAD_SENTENCES])
    facts = [_fact(f"{who} {verb} {title}?", first, [], [f"Can you explain {who.lower()} {title} {verb}?"],
                   replace(source, section="")),
             _fact(f"Tell me about {title}.", about if len(about) <= MAX_LEAD_CHARS else first,
                   [f"What do you know about {title}?"], [f"Give me a short description of {title}."],
                   replace(source, section=""), slot=first)]
    return [f for f in facts if f]


PATTERNS: list[tuple[re.Pattern, str, list[str], list[str]]] = [
    # (pattern on "<Title> ..."-sentences, question, more training phrasings, held-out phrasings)
    (re.compile(r"^{t} (?:is|was) (?:located|situated|based) (?:in|on|at) (?P<a>[^,;]+)"),
     "Where is {t} located?", ["Where is {t}?"], ["In what place can {t} be found?"]),
    (re.compile(r"^{t} (?:was|were) (?P<v>founded|established|built|created|discovered|invented|designed|written|"
                r"composed|formed|opened|launched|introduced|developed|published|released|named|completed) "
                r"(?:[^,;]*?\b)?in (?P<a>[^,;]*\d{3,4})"),
     "When was {t} {v}?", ["In what year was {t} {v}?"], ["Do you know when {t} was {v}?"]),
    (re.compile(r"^{t} (?:was|were) (?P<v>founded|established|built|created|discovered|invented|designed|written|"
                r"composed|formed|developed|published|named) (?:[^,;]*?\b)?by (?P<a>[A-Z][^,;]+)"),
     "Who {v_active} {t}?", ["Who was {t} {v} by?"], ["Do you know who {v_active} {t}?"]),
    (re.compile(r"^{t} (?:was|is) born (?:on |in )?(?P<a>[^,;]*\d{3,4})"),
     "When was {t} born?", ["What is the birth date of {t}?"], ["Do you know when {t} was born?"]),
    (re.compile(r"^{t} (?:is|was|are|were) (?:best |widely |mainly |chiefly )?known (?:for|as) (?P<a>[^;]+)"),
     "What is {t} known for?", ["Why is {t} famous?"], ["What made {t} well known?"]),
    (re.compile(r"^{t} (?:is|was) named (?:after|for) (?P<a>[^,;]+)"),
     "What is {t} named after?", ["Where does the name {t} come from?"], ["Why is {t} called that?"]),
    (re.compile(r"^(?:The capital of {t}|{t}'s capital|{t} has its capital) (?:is|was)? ?(?:in |at )?(?P<a>[A-Z][^,;]+)"),
     "What is the capital of {t}?", ["Which city is the capital of {t}?"], ["Do you know the capital of {t}?"]),
    (re.compile(r"^{t} (?:has|had) (?:a|an estimated) population of (?P<a>[\d,.]+(?: million| billion)?)"),
     "What is the population of {t}?", ["How many people live in {t}?"], ["How populous is {t}?"]),
]
ACTIVE = {"written": "wrote", "composed": "composed", "formed": "formed", "named": "named"}


def _pattern_facts(article: Article, section: str, sentence: str, source: Provenance) -> list[TaughtItem]:
    title = article.title
    facts = []
    for pattern, question, train, held_out in PATTERNS:
        match = re.compile(pattern.pattern.replace("{t}", re.escape(title))).search(sentence)
        if not match:
            continue
        verb = match.groupdict().get("v") or ""
        fill = {"t": title, "v": verb, "v_active": ACTIVE.get(verb, verb)}
        fact = _fact(question.format(**fill), sentence, [p.format(**fill) for p in train],
                     [p.format(**fill) for p in held_out], replace(source, section=section), slot=match["a"])
        if fact:
            facts.append(fact)
    return facts


def _section_fact(article: Article, section: str, first: str, source: Provenance) -> TaughtItem | None:
    topic = section.lower()
    title = article.title
    return _fact(f"What is known about the {topic} of {title}?", first,
                 [f"Tell me about the {topic} of {title}."],
                 [f"Can you summarise the {topic} of {title}?"], replace(source, section=section))


def _year_facts(article: Article, section: str, sentence: str, source: Provenance) -> list[TaughtItem]:
    years = _YEAR.findall(sentence)
    if len(years) != 1:
        return []
    title = article.title
    fact = _fact(f"What happened with {title} in {years[0]}?", sentence,
                 [f"What did {title} do in {years[0]}?"], [f"Tell me what {title} did in {years[0]}."],
                 replace(source, section=section))
    return [fact] if fact else []


def _provenance(article: Article) -> Provenance:
    """Where a fact comes from, on every row trained from it (the section is added per fact)."""
    return Provenance(ARTICLE, title=article.title, revision=article.revision, url=article.url)


def passages(article: Article) -> list[tuple[str, list[str]]]:
    """(section, prose sentences) of the lead ("") and the sections worth learning, each sentence with its
    subject named where a pronoun stood for it (see _with_subject); [] for stubs and lists."""
    if article.title.lower().startswith(("list of", "lists of", "index of", "outline of")):
        return []
    found = [("", sentences(clean(article.lead)))]
    found += [(s["title"], sentences(clean(s["text"]))) for s in article.sections
              if s["title"].strip().lower() not in SKIPPED_SECTIONS][:MAX_SECTIONS]
    if sum(len(s.split()) for _, ss in found for s in ss) < MIN_ARTICLE_WORDS:
        return []
    person = is_person(found[0][1])
    return [(section, [_with_subject(s, article.title, person) for s in ss]) for section, ss in found]


def memory_sentences(article: Article) -> list[tuple[str, str]]:
    """(section, sentence) of every prose sentence, for instant memory to answer from (learner.chat.memory).
    A sentence whose pronoun is not the subject ("It has been translated..." in an article on its author)
    comes with the sentence before it, which says what it is."""
    found = []
    for section, ss in passages(article):
        found += [(section, f"{ss[i - 1]} {s}" if i and questions.PRONOUN.match(s) else s) for i, s in enumerate(ss)]
    return found


def _asked(article: Article, section: str, sentence: str, source: Provenance) -> list[TaughtItem]:
    """The sentence as the answer to each question it answers (learner.learning.questions)."""
    facts = []
    for q in questions.questions(sentence, article.title):
        if fact := _fact(q.text, sentence, [], [], replace(source, section=section), slot=q.slot):
            facts.append(fact)
    return facts


def facts_from(article: Article, max_facts: int = 24) -> list[TaughtItem]:
    """Grounded facts of one article, at most `max_facts`: what the article is, then one question for each
    sentence that answers one, in the article's order (so a short budget still covers the article), then
    their other questions, then what each section is about and what happened in a year."""
    if not (parts := passages(article)):
        return []
    source = _provenance(article)
    central = _lead_facts(article, parts[0][1], source)
    first, more, opening, dated = [], [], [], []
    for section, ss in parts:
        for i, sentence in enumerate(ss):
            found = _distinct(_pattern_facts(article, section, sentence, source) + _asked(article, section, sentence, source))
            first += found[:1]
            more += found[1:]
            if not found and section and i == 0:
                if fact := _section_fact(article, section, sentence, source):
                    opening.append(fact)
            elif not found:
                dated += _year_facts(article, section, sentence, source)
    return _distinct(central + first + more + opening + dated)[:max_facts]


def _distinct(facts: list[TaughtItem], asked: set[str] = frozenset()) -> list[TaughtItem]:
    """The first fact of each question (ignoring case), leaving out questions already `asked` (lower-cased)."""
    seen, distinct = set(asked), []
    for fact in facts:
        if fact.question.lower() not in seen:
            seen.add(fact.question.lower())
            distinct.append(fact)
    return distinct


def written_facts(article: Article, writer: Engine) -> tuple[list[TaughtItem], list[dict]]:
    """Facts the chat model wrote about each passage and the checks passed (learner.learning.fact_writer), and the rejects."""
    source = _provenance(article)
    facts, rejected = [], []
    for section, ss in passages(article):
        if ss:
            written, refused = fact_writer.write(writer, article.title, section, ss[:SENTENCES_PER_SECTION], source)
            facts += written
            rejected += refused
    return _distinct(facts), rejected  # a small model asks the same question of several passages


# -- the stage ---------------------------------------------------------------------------

def cached_article(store: Store, language: str, title: str, revision: int | None = None) -> Article | None:
    """The stored article at `revision`, or its newest stored revision."""
    row = learning_store.article_row(store, language, title, revision)
    if row is None:
        return None
    return Article(title=row["title"], revision=row["revision"], url=row["url"], language=row["language"],
                   lead=row["lead"], sections=json.loads(row["sections"]))


def save_article(store: Store, article: Article) -> None:
    learning_store.save_article(store, article.language, article.title, article.revision, article.url, article.lead,
                                article.sections)


def _cached_facts(store: Store, article: Article, with_writer: bool) -> list[TaughtItem] | None:
    """The facts an earlier cycle made of this revision with the same generator (and writer, or none)."""
    row = learning_store.article_row(store, article.language, article.title, article.revision)
    cached = json.loads(row["facts"]) if row and row["facts"] else None
    if cached and cached["generator"] == GENERATOR and cached["written"] == with_writer:
        return [TaughtItem.from_dict(d) for d in cached["items"]]
    return None


def gather(store: Store, client: WikiClient, chosen: list[topics.Topic]) -> tuple[list[tuple[topics.Topic, Article]], list[dict]]:
    """(topic, article) for each topic that resolves, fetching only revisions not yet stored; and the failures.

    Requests: one search for each topic never resolved (its hits' titles, disambiguation flags and
    revisions come together), one for the latest revisions of all the topics resolved before, and
    one for each revision not yet in the database.
    """
    found, failures = [], []
    errors_in_a_row = 0
    resolved = [t for t in chosen if t.article_title]
    try:
        latest = client.revisions([t.article_title for t in resolved]) if resolved else {}
    except WikiError as e:
        latest, errors_in_a_row = {}, 1
        failures += [{"topic": t.name, "reason": str(e)} for t in resolved]
    for i, topic in enumerate(chosen):
        if topic.article_title and topic.article_title not in latest:
            continue  # the revisions lookup failed: recorded above
        if errors_in_a_row >= 2:  # offline or the wiki is down: do not pay every topic's retries
            failures.append({"topic": topic.name, "reason": "skipped: the wiki failed twice in a row"})
            continue
        progress("knowledge", 100 * i / max(1, len(chosen)), f"looking up {topic.name!r}")
        try:
            if topic.article_title is None:
                hit = client.resolve(topic.name)
            else:
                hit = latest.get(topic.article_title)  # None: searched before and nothing found, or gone since
            if (hit.title if hit else "") != topic.article_title:
                topics.set_article(store, topic.key, hit.title if hit else "")
            if hit is None:
                gone = f"article {topic.article_title!r} is gone" if topic.article_title else "no article found"
                failures.append({"topic": topic.name, "reason": gone})
                continue
            article = cached_article(store, client.language, *hit)
            if article is None:
                article = client.fetch(hit.title)
                save_article(store, article)
            found.append((topic, article))
            errors_in_a_row = 0
        except WikiError as e:
            errors_in_a_row += 1
            failures.append({"topic": topic.name, "reason": str(e)})
    return found, failures


def run(store: Store, client: WikiClient, out: Path, settings, writer: ModelChoice | None = None) -> dict:
    """Facts of the articles on the topics to learn; with a `writer` model, its checked questions join the templates'."""
    started = time.perf_counter()
    progress("knowledge", 0, "mining topics")
    topics.mine(store, settings)
    chosen = topics.to_learn(store, settings) if settings.wikipedia_consent else []
    found, failures = gather(store, client, chosen)
    rows, articles = [], []
    written_count = rejected_count = 0
    engine = None
    try:
        for topic, article in found:
            facts = _cached_facts(store, article, writer is not None)
            if facts is None:
                facts = facts_from(article, settings.facts_per_article)
                if writer is not None and 0 < len(facts) < settings.facts_per_article:  # room for its questions
                    progress("knowledge", 90, f"writing questions about {article.title!r}")
                    engine = engine or Engine(writer, n_ctx=2048, n_gpu_layers=gpu.learning_layers())
                    written, rejected = written_facts(article, engine)
                    written = _distinct(written, {f.question.lower() for f in facts})
                    facts += written[:settings.facts_per_article - len(facts)]
                    written_count, rejected_count = written_count + len(written), rejected_count + len(rejected)
                learning_store.save_article_facts(store, article.language, article.title, article.revision, {
                    "generator": GENERATOR, "written": writer is not None, "items": [f.to_dict() for f in facts]})
                learning_store.save_article_sentences(store, article.language, article.title, article.revision,
                                                      memory_sentences(article))
            articles.append({"topic": topic.name, "title": article.title, "revision": article.revision,
                             "language": article.language, "url": article.url, "facts": len(facts)})
            if not facts:
                failures.append({"topic": topic.name, "reason": f"{article.title!r} is a stub or a list"})
            rows += facts
    finally:
        if engine is not None:
            engine.close()
    out.mkdir(parents=True, exist_ok=True)
    body = taught.dump(rows)
    (out / taught.FACTS_FILE).write_text(body, encoding="utf-8")
    meta = write_meta(out, {"stage": "knowledge", "inputs_hash": text_sha256(body), "generator": GENERATOR,
                            "wikipedia_consent": settings.wikipedia_consent, "note": _note(settings, chosen),
                            "topics": [t.name for t in chosen], "articles": articles, "failures": failures,
                            "facts": len(rows), "writer": writer.version if writer else None,
                            "written": written_count, "written_rejected": rejected_count,
                            "seconds": round(time.perf_counter() - started, 2)})
    progress("knowledge", 100, meta["note"] or f"{len(rows)} facts from {len(articles)} article(s)"
             + (f"; {len(failures)} skipped" if failures else ""))
    return meta


def _note(settings, chosen: list[topics.Topic]) -> str | None:
    """Why the stage read nothing, where that is the user's to change."""
    if not settings.wikipedia_consent:
        return CONSENT_NEEDED
    return None if chosen else NOTHING_APPROVED


def run_with_settings(store: Store, out: Path, settings, live: ModelChoice) -> dict:
    """The stage as configured: the wiki from settings, and the live model as the writer if enabled."""
    client = WikiClient(settings.wiki_api_url, settings.wiki_language, settings.wiki_min_interval_s,
                        settings.wiki_timeout_s)
    try:
        return run(store, client, out, settings, live if settings.model_written_facts else None)
    finally:
        client.close()


def main(argv: list[str] | None = None) -> None:
    from learner import paths
    from learner.chat.served import live_model
    from learner.settings import Settings

    parser = argparse.ArgumentParser(description="Fetch the articles on the user's topics and write facts.")
    parser.add_argument("--out", type=Path, default=None, help="default: <data dir>/runs/manual/knowledge")
    args = parser.parse_args(argv)
    settings = Settings.load()
    meta = run_with_settings(Store(), args.out or paths.data_dir() / "runs" / "manual" / "knowledge", settings,
                             live_model())
    print(json.dumps({k: meta[k] for k in ("note", "topics", "articles", "failures", "facts")}, indent=2))


if __name__ == "__main__":
    main()
