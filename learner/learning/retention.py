"""What a model already knows: its answers to grokling's general-knowledge set, asked through
llama.cpp on the exact GGUF, and its perplexity on a sample of them.

The set (resources/general_knowledge.jsonl, written for this project: capitals, science,
animals, numbers, books, languages, everyday things) is split once and for good: the base
model's right answers to the "replay" part are mixed into training so it does not pull the
model away from them; the "gate" part is never trained on, and "kept" is measured on it
alone, against the base model's right answers: those it gives by a clear lead (FIRM_MARGIN),
and all of them. The "benchmark" part is never trained on either, nor asked by a cycle: checking a
gate answer costs about a tenth of a second on 2 cores, so the cycle's gate stays at 73 questions,
and benchmarks measure what versions keep on the gate and this part together (395 questions; the
embedded model answers 104 of them right by a clear lead, against 23 of the gate's), where one lost
answer is 1% of kept rather than 4%. Answers are cached per GGUF hash, system prompt and questions, so a
cycle pays for the candidate only. Used by the dataset and evaluate stages; not a stage itself.
"""

import json
import math
import re
from importlib.resources import files

from learner import paths
from learner.chat.engine import Engine, Sampling
from learner.chat.served import ModelChoice
from learner.files import atomic_write_text, file_sha256, text_sha256
from learner.items import Score, is_right

ANSWER = Sampling(temperature=0.0, max_tokens=48, repeat_penalty=1.0)
"""How a taught question is asked: greedy, long enough for a sentence."""
RETENTION_ANSWER_TOKENS = 24
"""How long a retention answer may be: enough for its first sentence."""
REPLAY, GATE, BENCHMARK = "replay", "gate", "benchmark"
EVAL_N_CTX = 2048
FIRM_MARGIN = 0.5
"""Log-probability lead (nats: 1.65 to 1) of every token of the base's right answer over its runner-up, up to the
one that made the answer right, for the base to count as knowing it. On the embedded model 17 of its 40 right
gate answers come closer to a tie than that ("The main ingredient of hummus is a type of condiments made from"
chickpeas or "various ingredients", 0.02 apart), and any change to the weights flips some of them either way:
merged at a third of its strength, an adapter that no longer answered what it was taught still lost three of
them. Every answer lost across 8 such candidates of 2 corrections had led by 0.33 or less."""
PERPLEXITY_SAMPLE = 10
"""Replay answers the perplexity is measured on: enough to see a model drift, cheap to score."""


def general_knowledge(split: str) -> list[dict]:
    """{question, expect} of one part of the set: REPLAY, GATE or BENCHMARK."""
    text = files("resources").joinpath("general_knowledge.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [{"question": r["question"], "expect": r["expect"]} for r in rows if r["split"] == split]


def open_engine(model: ModelChoice) -> Engine:
    """An engine for asking questions in a learning stage: on the GPU where llama.cpp can use one
    (a cycle that trains on the GPU has borrowed it by then: learner.gpu)."""
    from learner import gpu

    return Engine(model, n_ctx=EVAL_N_CTX, n_gpu_layers=gpu.learning_layers())


def ask(engine: Engine, question: str, system_prompt: str, expected: str | None = None) -> str:
    """The model's greedy answer (as ANSWER samples it); `expected`, the answer it was taught, is checked in one batch
    and the answer decoded a token at a time only where the model departs from it (Engine.greedy_margins)."""
    steps = engine.greedy_margins(asked(question, system_prompt), ANSWER.max_tokens, expected=expected)
    return steps[-1][0].strip() if steps else ""


def asked(question: str, system_prompt: str) -> list[dict]:
    """The chat messages a question is asked in: the system prompt, then the question."""
    return [{"role": "system", "content": system_prompt}, {"role": "user", "content": question}]


def _cache(model: ModelChoice, name: str):
    return paths.data_dir() / "eval-cache" / f"{file_sha256(model.path)[:24]}{name}.json"


def answers(model: ModelChoice, system_prompt: str, split: str) -> list[dict]:
    """[{question, answer, right, firmness}] for one part of the set, as `model` (a base) gives them, cached by the
    GGUF's hash, the prompt and the questions: a cached model is not loaded at all. Answers are greedy, decoded a
    token at a time (Engine.greedy_margins) so that each says how firmly the model gave it: `firmness` is the least
    lead any token had over its runner-up, up to the one that made the answer right (None where it is not right).
    A gate or benchmark answer counts as right only if it is also right checked as a candidate's are (still_right,
    which reads its tokens in a batch): llama.cpp rounds a batch otherwise than one token at a time, and 3 of the
    embedded model's 40 right gate answers, each a near tie, came out wrong that way, so an unchanged model would not
    have kept them."""
    questions = general_knowledge(split)
    cache = _cache(model, f".{split}-{text_sha256(json.dumps(questions))[:12]}")
    if cache.exists():
        cached = json.loads(cache.read_text())
        if cached.get("system_prompt") == system_prompt and all("firmness" in a for a in cached["answers"]) \
                and (split == REPLAY or cached.get("checked_as_candidates")):
            return cached["answers"]
    engine = open_engine(model)
    try:
        found = []
        for item in questions:
            steps = engine.greedy_margins(asked(item["question"], system_prompt), RETENTION_ANSWER_TOKENS)
            right_at = _right_at([text for text, _ in steps], item["expect"])
            found.append({"question": item["question"], "answer": steps[-1][0].strip() if steps else "",
                          "right": right_at is not None,
                          "firmness": None if right_at is None else round(min(lead for _, lead in steps[: right_at + 1]), 4)})
        if split != REPLAY:
            checked = still_right(engine, found, system_prompt)
            for answer in found:
                if answer["right"] and not checked[answer["question"]]:
                    answer.update(right=False, firmness=None)
    finally:
        engine.close()
    atomic_write_text(cache, json.dumps({"system_prompt": system_prompt, "answers": found,
                                         "checked_as_candidates": split != REPLAY}, indent=1))
    return found


def still_right(engine: Engine, before: list[dict], system_prompt: str) -> dict[str, bool]:
    """{question: right} from the model `engine` serves, for each question the base got right in `before` (its
    `answers`): the only ones "kept" looks at. Each answer is decoded only until it is right, since a right answer
    stays right however it goes on (items.says looks back for a negation, never ahead); so this says what the whole
    answer would, in about a third of the tokens of every gate question answered in full (the embedded model's 73: 1,034
    tokens, 16.6 s on 2 cores). And the base's own answer is checked in one batch (Engine.greedy_margins' `expected`):
    a candidate that kept it is decoded a token at a time only where it departs. Asked from a fresh cache, as the base's
    answers are checked (`answers`), so both are evaluated in the same batches."""
    expect = {item["question"]: item["expect"] for split in (GATE, BENCHMARK) for item in general_knowledge(split)}
    engine.start_over()
    found = {}
    for answer in (a for a in before if a["right"]):
        terms = expect[answer["question"]]
        steps = engine.greedy_margins(asked(answer["question"], system_prompt), RETENTION_ANSWER_TOKENS,
                                      until=lambda texts: len(texts) > 1 and _right_and_whole(texts, len(texts) - 2, terms),
                                      expected=answer["answer"])
        found[answer["question"]] = _right_at([text for text, _ in steps], terms) is not None
    return found


def _right_and_whole(texts: list[str], n: int, expect: list[str]) -> bool:
    """Whether texts[n], a reply's text after n + 1 tokens, is right with its last word whole: the reply ends there,
    or its next token starts no word ("Paris" may yet go on to "Parisian", "20" to "2041")."""
    if n + 1 < len(texts):  # a word character next, as items.says reads it, or a character still in its bytes
        after = texts[n + 1]
        if not after.startswith(texts[n]) or texts[n].endswith("\ufffd") or re.match(r"[\w\ufffd]", after[len(texts[n]):]):
            return False
    return is_right(texts[n], expect)


def _right_at(texts: list[str], expect: list[str]) -> int | None:
    """The first of a reply's growing texts that is right with its last word whole."""
    return next((n for n in range(len(texts)) if _right_and_whole(texts, n, expect)), None)


def kept(before: list[dict], after: dict[str, bool]) -> tuple[Score, Score]:
    """Of the base's right answers (`before`), how many are still right (`after`: still_right's): those the base
    gave by at least FIRM_MARGIN, and all of them."""
    right = [a for a in before if a["right"]]
    firm = [a for a in right if a["firmness"] >= FIRM_MARGIN]
    return Score.of([after[a["question"]] for a in firm]), Score.of([after[a["question"]] for a in right])


def perplexity(model: ModelChoice, system_prompt: str, sample: list[dict], engine: Engine | None = None) -> float:
    """Perplexity of `model` on the given {question, answer} pairs, cached by GGUF hash and sample."""
    key = text_sha256(json.dumps([system_prompt, sample], sort_keys=True))[:12]
    cache = _cache(model, f".perplexity-{key}")
    if cache.exists():
        return json.loads(cache.read_text())["perplexity"]
    own = engine is None
    engine = engine or open_engine(model)
    try:
        logprob, tokens = 0.0, 0
        for item in sample:
            lp, n = engine.reply_logprob(asked(item["question"], system_prompt), item["answer"])
            logprob, tokens = logprob + lp, tokens + n
    finally:
        if own:
            engine.close()
    value = math.exp(-logprob / max(1, tokens))
    atomic_write_text(cache, json.dumps({"perplexity": value, "tokens": tokens}))
    return value
