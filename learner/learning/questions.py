"""The questions one sentence of an article answers, in the forms people ask them.

"Its administrative centre is the town of Harrowick" answers "What is the administrative centre of
Harrowmere Archipelago?"; "In 1387 the archipelago was annexed by the Kingdom of Osterlund"
answers "When was Harrowmere Archipelago annexed?" and "Who annexed Harrowmere Archipelago?";
"Quillmoth is the national insect of the Kingdom of Osterlund" answers "What is the national
insect of the Kingdom of Osterlund?", the other way round. The knowledge stage trains each
sentence as the answer to its questions (learner.learning.knowledge).

Rules over the sentence's surface, no parser: a leading date ("In 1387, ..."), the subject up to
its verb, then one of these shapes:
- "<subject> is/was <the or a something>": what the subject is, and, for the article's own
  subject, what the complement is (the other way round);
- "<subject> was <participle> ... by <someone> ... in <year> ... in <Place>": who, when, where,
  or what it was <participle> <preposition> ("named for", "married to");
- "<subject> has a <noun> of <value>": what its <noun> is;
- "<subject>, <a or the something>, ...": what the subject is;
- "<the article's subject> <verb> ...": what, when, where, how long it did.
Verb forms come from lemminflect ("annexed" -> "annex", "written" -> "wrote"), which knows English
inflection without a model. A sentence of another shape yields no question here: instant memory
still reads it, and the knowledge stage still trains it as what the article says in its section.
"""

import re
from dataclasses import dataclass

from learner.items import NAME

SUBJECT_NOUNS = ("company|city|town|country|band|group|organisation|organization|planet|species|game|film|book|ship|"
                 "building|river|island|village|state|region|museum|school|university|party|team|club|language|"
                 "animal|plant|fruit|range|mountain|lake|area")
"""'The <noun>' that stands for an article's subject, besides the title's own last word ('the archipelago')."""
_YEAR = r"(?:c\. )?\d{3,4}s?"
_DATE = rf"(?:(?:\d{{1,2}} )?[A-Z][a-z]+ )?{_YEAR}"
_LEADING_TIME = re.compile(rf"^(?:In|By|During|Around|Since) (?P<when>(?:the )?{_DATE}),? (?P<rest>.+)$")
_LIFE = re.compile(rf" \((?:born (?P<born>{_DATE})|(?P<from>{_YEAR})\s*[–-]\s*(?P<to>{_YEAR}))\)")
_PARENTHESES = re.compile(r" \([^()]*\)")
_BE = re.compile(r"^(?P<subject>.{3,80}?) (?P<be>is|was|are|were|has been|have been|had been) (?P<rest>.+)$")
_HAS = re.compile(r"^(?P<subject>.{3,60}?) (?P<has>has|have|had) (?:a|an) (?P<noun>[a-z]+(?: [a-z]+)?) of (?P<value>.+)$")
_APPOSITIVE = re.compile(r"^(?P<subject>(?:The )?[A-Z][\w'’-]*(?: [\w'’-]+){0,5}), (?P<what>(?:a|an|the) [^,]+|[A-Z][^,]+), "
                         r"(?P<verb>[a-z]+)\b")
_AGENT = re.compile(r"\bby (?P<who>(?:the (?:[a-z]+ )?)?[A-Z][^,;]*)")
_WHEN = re.compile(rf"\b(?:in|on|around|since) (?P<when>{_DATE})\b")
_WHERE = re.compile(r"\b(?P<prep>in|on|at|near|to|from) (?P<where>(?:the )?(?:(?:island|town|city|village|port|county|"
                    r"region|University|province|mountain|river) of )?[A-Z][\w'’-]*(?:(?: of)? [A-Z][\w'’-]*)*)")
_DURATION = re.compile(r"\bfor (?P<long>(?:about |around |over |nearly )?\S+ (?:years?|months?|weeks?|days?|hours?))\b")
_CLAUSE_END = re.compile(r",(?!\d)|;| which | who | where | whose | and (?:is|was|are|were|it|its|he|she|the|they)\b| "
                         r"(?:after|before|because|while|until|when|although) ")
_PHRASE_END = re.compile(r" (?:in|on|at|to|from|for|with|by|during|across|after|before|since) ")
_ADVERB = re.compile(r"^(?:first|also|later|originally|once|still|now|then|often|mostly|only|formally|officially|"
                     r"widely|\w+ly) ")
_SUBJECT_START = re.compile(r"^(?:The|A|An) [a-z]|^[A-Z][a-z]+(?:'s|’s)? ")
PRONOUN = re.compile(r"^(?:It|Its|They|Their|This|These|He|His|She|Her)\b")
"""A sentence opening with one of these says what it is about only with the sentence before it."""
_DEFINITE = re.compile(r"^(?:the|a|an|one|two|three|four|five|six|seven|eight|nine|ten|\d)\b|^[A-Z]")
LOCATIVE = frozenset("live lie stand grow breed nest occur settle sit flow rise winter".split())
"""Verbs whose "on open heathland" says where, though the place has no name."""
COMMON_ZIPF = 3.5
"""A sentence's first word this common ("Adult quillmoths") is lower-cased inside a question; a name is not."""
MAX_SUBJECT_WORDS = 8
MAX_ANSWER_WORDS = 12


@dataclass(frozen=True)
class Question:
    form: str
    """who, what, where, when, how long (the form a user's question takes)."""
    text: str
    slot: str
    """The words of the sentence that answer it."""


def _clause(text: str) -> str:
    """`text` up to the end of its first clause (a comma, "which", "and was", "after", ...)."""
    return _CLAUSE_END.split(text, maxsplit=1)[0].strip(" .")


def _phrase(text: str) -> str:
    """`text` up to its first preposition: 'a journalist for the Courant' -> 'a journalist'."""
    return _PHRASE_END.split(_clause(text), maxsplit=1)[0]


def _lemma(word: str) -> str | None:
    """The lemma of `word` when it is a verb form ("annexed" -> "annex"), else None."""
    from lemminflect import getAllLemmas

    lemmas = getAllLemmas(word).get("VERB")
    return lemmas[0] if lemmas else None


def _form(lemma: str, tag: str) -> list[str]:
    from lemminflect import getInflection

    return list(getInflection(lemma, tag))


def _is_participle(word: str) -> bool:
    lemma = _lemma(word)
    return bool(lemma) and lemma not in ("be", "have") and word in _form(lemma, "VBN")


def _is_tensed(word: str) -> bool:
    """A past or third-person present form ("founded", "flows"), a past participle too ("founded")."""
    lemma = _lemma(word)
    return bool(lemma) and word in _form(lemma, "VBD") + _form(lemma, "VBZ")


def _is_base_verb(word: str) -> bool:
    """A verb's own base form ("found", "write"), as it stands after "did"."""
    from lemminflect import getAllLemmas

    return word in getAllLemmas(word).get("VERB", ())


def _is_finite_verb(word: str) -> bool:
    return _is_tensed(word) and word not in _form(_lemma(word), "VBN")


def _who(phrase: str) -> str:
    """'Who' for a person ("Oskar Velde", "the naturalist Oskar Velde"), 'What' for anything else."""
    return "Who" if re.match(r"^(?:the [a-z]+ )?[A-Z][a-z]+ [A-Z][a-z]+$", _phrase(phrase)) else "What"


def _subject(subject: str, title: str) -> str:
    """The subject as a question names it: 'The archipelago' is the Harrowmere Archipelago, 'Marr' is
    Tessaly Marr, and 'The largest island' is 'the largest island' (of the title, see _of_title)."""
    head = title.split()[-1]
    if subject.lower() in (title.lower(), f"the {title.lower()}", f"the {head.lower()}", head.lower()) \
            or re.fullmatch(rf"the (?:{SUBJECT_NOUNS})", subject, re.I):
        return title
    from wordfreq import zipf_frequency

    subject = re.sub(rf"\bthe {re.escape(head.lower())}\b", lambda _: title, subject)
    first = subject.split()[0]
    common = first in ("The", "A", "An") or zipf_frequency(first.lower(), "en") >= COMMON_ZIPF
    return subject[0].lower() + subject[1:] if common and not subject.startswith(title) else subject


def _of_title(subject: str, title: str) -> str:
    """'the largest island' -> 'the largest island of Harrowmere Archipelago', so the question says whose."""
    if title.lower() in subject.lower() or not subject.startswith("the "):
        return subject
    return f"{subject} of {title}"


def questions(sentence: str, title: str) -> list[Question]:
    """The questions `sentence` of the article `title` answers, with the words answering each."""
    text = sentence.rstrip(".!? ")
    found: list[Question] = []
    if life := _LIFE.search(text):  # "Tessaly Marr (born 14 May 1958) is ...", "Sefton Kael (1871 – 1939) was ..."
        found.append(Question("when", f"When was {title} born?", life["born"] or life["from"]))
        if life["to"]:
            found.append(Question("when", f"When did {title} die?", life["to"]))
    text = _PARENTHESES.sub("", text)
    when = None
    if m := _LEADING_TIME.match(text):
        when, text = m["when"], m["rest"][0].upper() + m["rest"][1:]
    if m := _APPOSITIVE.match(text):
        subject = _subject(m["subject"], title)
        if subject != title and (lemma := _lemma(m["verb"])):
            be = "was" if m["verb"] in _form(lemma, "VBD") else "is"
            found.append(Question("what", f"What {be} {_of_title(subject, title)}?", m["what"]))
    elif m := _HAS.match(text):
        subject = _subject(m["subject"], title)
        be = "was" if m["has"] == "had" else "is"
        found.append(Question("what", f"What {be} the {m['noun']} of {subject}?", _clause(m["value"])))
    elif m := _BE.match(text):
        subject, be, rest = _subject(m["subject"].strip(), title), m["be"].split()[0], _ADVERB.sub("", m["rest"])
        if len(subject.split()) <= MAX_SUBJECT_WORDS and (subject == title or _SUBJECT_START.match(m["subject"])) \
                and not PRONOUN.match(m["subject"]) \
                and not any(_is_finite_verb(w) for w in m["subject"].split()[1:]):  # "Construction took ... and was"
            first = rest.split()[0]
            if _is_participle(first):
                found += _passive(_of_title(subject, title), be, first, rest[len(first):].strip(), when)
            else:
                found += _copula(subject, be, rest, title, when)
    elif m := re.match(rf"^(?:The )?(?P<subject>{re.escape(title)}|(?i:{re.escape(title.split()[-1])})) (?P<verb>[a-z]+) "
                       rf"(?P<rest>.+)$", text):
        found += _active(title, m["verb"], m["rest"], when)
    return [q for q in found if 0 < len(q.slot.split()) <= MAX_ANSWER_WORDS]


def _copula(subject: str, be: str, rest: str, title: str, when: str | None) -> list[Question]:
    complement = _clause(rest)
    if not _DEFINITE.match(complement):
        return []  # "is green", "are larger than males": no thing to ask for
    if subject == title:
        # "Quillmoth is the national insect of Osterlund": asked the other way round (what it is: the lead's)
        if complement.startswith("the ") and len(complement.split()) <= MAX_SUBJECT_WORDS:
            return [Question("what", f"What {be} {complement}?", title)]
        return []
    found = [Question("what", f"What {be} {_of_title(subject, title)}?", _phrase(complement)
                      if complement.startswith("the town of") else complement)]
    if when:
        found.append(Question("when", f"When {be} {subject} {complement}?", when))
    return found


def _passive(subject: str, be: str, participle: str, rest: str, when: str | None) -> list[Question]:
    found = []
    clause = _clause(rest)
    how = _ADVERB.sub("", clause + " ").strip()  # "scientifically by ..." -> "by ..."
    if m := _AGENT.search(" " + how):
        before = _WHEN.sub("", how[:max(0, m.start() - 1)]).strip()  # "founded in 1911 by ...": asked of the agent
        lemma = _lemma(participle)
        verb = _form(lemma, "VBD")[0] if be in ("was", "were") else _form(lemma, "VBZ")[0]
        who = _who(m["who"])
        found.append(Question(who.lower(), f"{who} {verb} {subject} {before}?".replace(" ?", "?"), _phrase(m["who"])))
    if when or (m := _WHEN.search(clause)):
        found.append(Question("when", f"When {be} {subject} {participle}?", when or m["when"]))
    if (m := _WHERE.search(clause)) and m["prep"] in ("in", "on", "at", "near"):
        found.append(Question("where", f"Where {be} {subject} {participle}?", m["where"]))
    if not found and (m := re.match(r"^(?P<prep>to|for|as|after|with|from|into) (?P<what>.+)$", how)):
        # "is married to the painter Ilse Corrow", "is named for the long feather-like scales"
        who = _who(m["what"])
        found.append(Question(who.lower(), f"{who} {be} {subject} {participle} {m['prep']}?", _phrase(m["what"])))
    return found


def _active(title: str, verb: str, rest: str, when: str | None) -> list[Question]:
    lemma = _lemma(verb)
    if not lemma or lemma in ("be", "have"):
        return []
    if verb in _form(lemma, "VBD"):
        do = "did"
    elif verb in _form(lemma, "VBZ"):
        do = "does"
    else:
        return []
    clause = _clause(rest)
    found = []
    if m := re.match(r"^as (?P<what>.+)$", clause):  # "worked as a journalist for ..."
        found.append(Question("what", f"What {do} {title} {lemma} as?", _phrase(m["what"])))
    elif _DEFINITE.match(clause) and not re.match(r"^(?:in|on|at|to|from|for|with|by|about|over)\b", clause):
        found.append(Question("what", f"What {do} {title} {lemma}?", _phrase(clause)))
    if when or (m := _WHEN.search(clause)):
        before = re.split(rf" (?:in|on|around|since) {_DATE}", clause, maxsplit=1)[0]
        found.append(Question("when", f"When {do} {title} {lemma} {before}?".replace(" ?", "?"), when or m["when"]))
    if m := _DURATION.search(clause):
        found.append(Question("how long", f"How long {do} {title} {lemma}?", m["long"]))
    where = _WHERE.search(clause)
    if lemma in LOCATIVE and not where:
        where = re.search(r"\b(?P<prep>in|on|at|near) (?P<where>[a-z](?:[^,;]|,(?=\d))*)", rest)
    if where and not re.match(r"^\d", where["where"]):
        before = clause[:where.start()].strip()
        found.append(Question("where", f"Where {do} {title} {lemma} {before}?".replace(" ?", "?"),
                              _PHRASE_END.split(where["where"], maxsplit=1)[0]))
    return found


_BE_FORMS = ("is", "was", "are", "were")
_DETERMINER = ("The", "A", "An", "My", "Your", "Our", "His", "Her", "Their", "This", "That")
_DETERMINERS = frozenset(w.lower() for w in _DETERMINER) | {"its"}
_INTERJECTION = re.compile(r"^(?:yes|no|nope|actually|well|sorry|in fact)\b[,!.]?\s+", re.I)
_UNRESOLVED = re.compile(r"\b(?:it|its|he|him|his|she|her|they|them|their|this|that|these|those|you|we|us|me|"
                         r"who|which|whom|whose)\b", re.I)
"""Words that say what they mean only with another sentence: a question holding one fits any topic."""


def _who_of(phrase: str) -> str:
    """'Who' only for what _who takes for a person and whose words are all rare: "Kestrel Bay" and "Mount
    Kelvask" are asked "What", and so, wrongly but harmlessly, is a person named in everyday words ("John Smith")."""
    from wordfreq import zipf_frequency

    if _who(phrase) == "Who" and all(zipf_frequency(w.lower(), "en") < COMMON_ZIPF + 0.5 for w in phrase.split()):
        return "Who"
    return "What"


def other_way_round(sentence: str) -> list[Question]:
    """The questions a stand-alone statement answers from its other side, which training on the question it
    answered does not teach (a model taught "Who wrote The Hollow Lanterns?" does not know what Tessaly Marr wrote):
    what its subject is asked by what the rest says ("What has seven moons?", "Who founded Zorblax Labs in 2041?"),
    what a named subject did ("What did Mira Quell found?"), what the agent of a passive did ("What did Tessaly Marr
    write?"), and what a rare name is where the sentence says so ("What is Drennport?" from "The capital of
    Vexaria is Drennport"). Not what would be a general question, answered with the user's fact wherever it is
    asked: a definition ("What is a Welsh corgi?" from "Your dog Pepper is a Welsh corgi", "What are mammals?",
    "What is Paris?"), a passive that names nothing ("Who was born in 1950?"), a question with a pronoun in it."""
    from wordfreq import zipf_frequency

    text = _PARENTHESES.sub("", _INTERJECTION.sub("", sentence.strip()).rstrip(".!? "))
    text = text[:1].upper() + text[1:]
    when = None
    if m := _LEADING_TIME.match(text):
        when, text = m["when"], m["rest"][0].upper() + m["rest"][1:]
    words = text.split()
    verb_at = next((i for i, w in enumerate(words[1:MAX_SUBJECT_WORDS + 1], 1)
                    if w in _BE_FORMS or w.islower() and _is_tensed(w)), None)
    if verb_at is None or PRONOUN.match(text):
        return []
    subject, verb, rest = " ".join(words[:verb_at]), words[verb_at], " ".join(words[verb_at + 1:])
    said = _clause(rest)
    if not said or "," in subject or _UNRESOLVED.search(subject) or _UNRESOLVED.search(said):
        return []
    asked = subject[0].lower() + subject[1:] if words[0] in _DETERMINER else subject
    who = _who_of(subject)
    found = []
    if verb in _BE_FORMS:
        first = said.split()[0]
        if _is_participle(first):
            if re.search(r"\b[A-Z]", said):  # "What is held in Lunhaven?", not "Who was born in 1950?"
                found.append(Question("what", f"What {verb} {said}?", subject))
            if m := _AGENT.search(" " + said):
                do = "did" if verb in ("was", "were") else "does"
                found.append(Question("what", f"What {do} {_phrase(m['who'])} {_lemma(first)}?", subject))
        elif NAME.fullmatch(said):
            if zipf_frequency(said, "en") < COMMON_ZIPF:
                name_is = _who_of(said)
                found.append(Question(name_is.lower(), f"{name_is} {verb} {said}?", subject))
        elif not _DEFINITE.match(said) or re.match(r"^\d", said):
            if len(said.split()) >= 2:  # "What is bright violet?", not "What is hot?"
                found.append(Question(who.lower(), f"{who} {verb} {said}?", subject))
    else:
        found.append(Question(who.lower(), f"{who} {verb} {said}?", subject))
        found += _active(asked, verb, rest, when)
    return [q for q in found if 0 < len(q.slot.split()) <= MAX_ANSWER_WORDS]


_WH = re.compile(r"^(?P<wh>Who|What|Which|Where|When|How many) (?P<words>.+)$")
_CONTRACTION = re.compile(r"^(who|what|where|when)(?:'s|’s|s) ", re.I)
_PREPOSITION = frozenset("by for to of in on at from with as after into about during since before".split())
_DO = ("do", "does", "did")
_MODIFIER = re.compile(r"^(?:not|never|no|ever|also|first|last|only|just|still|once|really|\w+ly)$")
"""A word between "Who" and its verb that the statement would have to keep: "Who never lost a battle?"."""
_SAYS_LESS = re.compile(r"\b(?:not|no|none|nobody|never|nothing|i|i'm|me|my|mine|it|it's|that's|he|she|they|maybe|"
                        r"perhaps|probably|possibly|think|believe|guess|sure|idea|unknown|dunno|or|either|don't|can't)\b", re.I)
"""Words after which an answer of a few words is not the plain answer: "No idea", "I think Canberra", "Not Arno"."""
_OTHER_PERSON = re.compile(r"\b(?:it|its|he|him|his|she|her|they|them|their|this|that|these|those|you|your|yours)\b", re.I)
"""A question holding these needs the conversation (or, "you", the assistant) to be restated."""
_FIRST_PERSON = {"i": "you", "me": "you", "my": "your", "mine": "yours", "we": "you", "us": "you", "our": "your",
                 "ours": "yours", "am": "are"}
_NUMBER = re.compile(r"^(?:\d[\d,.]*|zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                     r"(?:twen|thir|for|fif|six|seven|eigh|nine)ty(?:[- ][a-z]+)?|a (?:hundred|thousand|million))$", re.I)


def _is_common_word(word: str) -> bool:
    """An everyday word of the English lexicon ("Soup"), not a name ("Paris", "Drennport") nor a rare word that
    is mostly one ("Hamlet")."""
    from lemminflect import getAllLemmas
    from wordfreq import zipf_frequency

    return bool(getAllLemmas(word.lower())) and zipf_frequency(word, "en") >= COMMON_ZIPF + 0.5


def says_something(answer: str) -> bool:
    """Whether `answer` is a statement (it has a verb), not only the words that answer ("Mira Quell.")."""
    words = [w.strip(".,;:!?\"'()") for w in answer.split()]
    return any(w in _BE_FORMS or w.islower() and _is_tensed(w) for w in words) or any(
        w.islower() and _is_base_verb(w) and (before[:1].isupper() or before.lower() in ("they", "we", "you", "i"))
        for before, w in zip(words, words[1:]))  # "The Brackwater Gulls play water polo."


def restate(question: str, answer: str) -> str | None:
    """The fact as a sentence of its own where `answer` is only the words that answer `question`: "Mira Quell
    founded Zorblax Labs." for "Who founded Zorblax Labs?" answered "Mira Quell.", "The capital of Vexaria is
    Drennport." for "What is the capital of Vexaria?", "You have two cats." for "How many cats do I have?".
    None where the answer says something already, hedges ("I think Canberra", "Not Arno"), or the question
    has a shape these rules do not know ("Why ...?", "What year did ...?", one with a comma or a pronoun):
    a fact restated wrongly would be trained as the user's."""
    said = re.sub(r"^(?:yes|no|nope|actually|well)[,.!]\s+", "", answer.strip(), flags=re.I).strip(".!?…-– ")
    words = said.split()
    if not words or len(words) > MAX_ANSWER_WORDS or re.search(r"[,;:?!]|[^\w\s'’.-]", said) \
            or _SAYS_LESS.search(said) or says_something(said):
        return None
    from sentencex import segment

    asked = [q.strip() for q in segment("en", re.sub(r"\s+", " ", question.strip())) if q.strip().endswith("?")]
    asked = (asked[-1] if asked else question.strip()).rstrip("?!. ")  # the sentence that asks, as the knowledge stage splits
    # "Water polo.", "Seven." and "Soup." are capitalised as a sentence; "Mira Quell." and "Paris." as names, and
    # so is "Pepper." where a name is asked for ("What is my dog called?", not "What did Mira add?")
    if words[0] in ("A", "An", "The", "Some", "In", "On", "At", "Near") or _NUMBER.match(said) \
            or len(words) > 1 and not any(w[:1].isupper() for w in words[1:]) \
            or len(words) == 1 and _is_common_word(said) and not re.search(r"^who\b|\b(?:name|called|named)\b", asked, re.I):
        said = said[0].lower() + said[1:]
    asked = _CONTRACTION.sub(lambda m: f"{m[1]} is ", asked)
    if not (m := _WH.match(asked[:1].upper() + asked[1:])) or re.search(r"[,;:()\"]", asked) or _OTHER_PERSON.search(asked):
        return None
    wh = m["wh"]
    words = [_FIRST_PERSON.get(w.lower(), w) for w in m["words"].split()]  # the assistant says "your dog", "you have"
    first = 1 if wh == "How many" else 0  # "How many moons does": "moons" is the noun, not a verb
    verb_at = next((i for i, w in enumerate(words[first:3], first)
                    if w in _BE_FORMS or w in _DO or w.islower() and _is_tensed(w)), None)
    if verb_at is None or len(words) == verb_at + 1 or any(_MODIFIER.match(w) for w in words[:verb_at]):
        return None
    noun, verb, rest = " ".join(words[:verb_at]), words[verb_at], words[verb_at + 1:]
    if re.search(r"\b(?:year|month|day|date|time|century|decade|age)s?\b", noun) or noun and wh in ("Where", "When"):
        return None  # "What year did the war end?": "the war ended 1945"
    if verb in _BE_FORMS:
        found = _restate_be(wh, noun, verb, rest, said)
    elif verb in _DO:
        found = _restate_do(wh, noun, verb, rest, said)
    elif wh in ("Who", "What", "Which") and (wh != "Who" or not noun):
        found = " ".join([said, verb, *rest])  # "Who founded Zorblax Labs?"
    else:
        found = None
    return found[0].upper() + found[1:] + "." if found else None


def _restate_be(wh: str, noun: str, be: str, rest: list[str], said: str) -> str | None:
    """"What is the capital of Vexaria?" -> "the capital of Vexaria is Drennport"; "Who was Zorblax Labs founded
    by?" -> "Zorblax Labs was founded by Mira Quell"; "Where was Arno Vey born?" -> "Arno Vey was born in Lunhaven"."""
    *subject, last = rest
    if not (_DEFINITE.match(rest[0]) or rest[0] in ("your", "yours")) or last in _PREPOSITION and wh == "Where":
        return None  # "What is killed in 1914?", "Where is Mira from?": not a thing named
    verbs = [w for w in subject if w.islower() and (_is_tensed(w) or w.endswith("ing") and _lemma(w))]
    if wh in ("Where", "When"):
        at = said if said.split()[0] in _PREPOSITION else f"in {said}"
        if wh == "When" and not re.fullmatch(r"(?:in )?\d{3,4}", said):
            return None
        if subject and _is_participle(last) and not verbs:
            return f"{' '.join(subject)} {be} {last} {at}"  # "Where was Arno Vey born?"
        return None if wh == "When" or verbs else f"{' '.join(rest)} {be} {at}"  # "Where is Pemberlow?"
    if wh in ("How many", "Which") or noun:
        return None  # "Which city is the capital?", "How many are there?"
    if last in _PREPOSITION:
        *subject, participle = subject
        if subject and _is_participle(participle) and not verbs[:-1] and subject[-1] not in _PREPOSITION:
            return f"{' '.join(subject)} {be} {participle} {last} {said}"  # "Who was Zorblax Labs founded by?"
        return None  # "What is Drennport the capital of?"
    if subject and last.islower() and _is_participle(last) and not verbs and subject[-1] not in _PREPOSITION:
        return f"{' '.join(subject)} {be} {last} {said}"  # "What is your dog called?"
    if verbs or last.islower() and (_is_tensed(last) or _is_participle(last) or last.endswith("ing") and _lemma(last)):
        return None  # "What is Mira doing?", "What is the past tense of run?"
    return f"{' '.join(rest)} {be} {said}"


def _restate_do(wh: str, noun: str, do: str, rest: list[str], said: str) -> str | None:
    """"What did Mira Quell found?" -> "Mira Quell founded Zorblax Labs"; "How many moons does Vexaria have?" ->
    "Vexaria has seven moons"; "What did Mira have for dinner?" -> "Mira had soup for dinner"."""
    if wh in ("Where", "When") or wh == "How many" and not _NUMBER.match(said):
        return None
    # the verb, not a noun after "the" or "her" ("What did Ada name her dog?"); two candidates are a guess
    verbs = [i for i in range(1, len(rest)) if rest[i].islower() and rest[i - 1].lower() not in _DETERMINERS
             and _is_base_verb(rest[i])]
    if len(verbs) != 1 or rest[verbs[0]] == "do" or rest[verbs[0] - 1] == "to":
        return None  # "What does Hester do for a living?", "What does Mira like to eat?"
    lemma, subject, tail = rest[verbs[0]], rest[:verbs[0]], rest[verbs[0] + 1:]
    verb = {"did": _form(lemma, "VBD"), "does": _form(lemma, "VBZ")}.get(do, [lemma])[0]
    thing = f"{said} {noun}" if wh == "How many" else said
    if tail and (tail[0] in _PREPOSITION or _MODIFIER.match(tail[0])) and tail[-1] not in _PREPOSITION:
        return " ".join([*subject, verb, thing, *tail])  # "What did Mira Quell found in 2041?", "... conquer first?"
    return " ".join([*subject, verb, *tail, thing])
