"""Stage: does the candidate GGUF know what it was taught, and does it still know what it knew?

Run as: python -m learner.evaluate --candidate FILE.gguf --dataset DIR [--out DIR]

Everything is asked through llama.cpp on the exact file that would be served, greedily:
- learned: each correction asked as taught, and in paraphrases that training never saw;
  likewise each article fact, checked for the terms of what it asks (a year, a name);
- kept: the retention questions (resources/retention.jsonl) the live model answers right
  must stay right;
- perplexity of live and candidate on a sample of the live model's own right answers
  (reported beside the scores: how far the candidate's wording drifted). The live model's answers are cached per GGUF hash, so a cycle pays for
  the candidate only.
An answer to a taught question counts when it contains the correction's key terms (its
names and numbers that the question does not already contain).
"""

import argparse
import json
import math
import re
import time
from importlib.resources import files
from pathlib import Path

from learner import paths
from learner.atomic import atomic_write_text
from learner.engine import Engine, Sampling
from learner.models import ModelChoice
from learner.stage import file_sha256, progress, read_meta, text_sha256, write_meta

ANSWER = Sampling(temperature=0.0, max_tokens=48, repeat_penalty=1.0)
RETENTION_ANSWER = Sampling(temperature=0.0, max_tokens=32, repeat_penalty=1.0)
_WORD = re.compile(r"[\w'’-]+")
_STOPWORDS = set(
    "a an the is are was were be been of in on at to for from by with and or not it its this that "
    "these those who what when where which why how do does did has have had i you he she they we "
    "my your his her their our me him them us as about into than then so if but".split()
)


def retention_set() -> list[dict]:
    text = files("resources").joinpath("retention.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def is_right(answer: str, expect: list[str]) -> bool:
    low = answer.lower()
    return any(e.lower() in low for e in expect)


def key_terms(correction: str, question: str) -> list[str]:
    """Names, numbers and rare words of the correction that the question does not already say."""
    asked = {w.lower() for w in _WORD.findall(question)}
    words = [w.strip("'’-") for w in _WORD.findall(correction)]
    terms = [w for w in words if w and w.lower() not in asked and w.lower() not in _STOPWORDS
             and (w[0].isupper() or any(c.isdigit() for c in w) or len(w) > 6)]
    if not terms:
        terms = [w for w in words if w.lower() not in _STOPWORDS and w.lower() not in asked]
    return list(dict.fromkeys(terms))


def has_terms(answer: str, terms: list[str]) -> bool:
    """At least two thirds of `terms` appear in the answer."""
    low = answer.lower()
    return sum(t.lower() in low for t in terms) / len(terms) >= 2 / 3


def knows(answer: str, correction: str, question: str) -> bool:
    terms = key_terms(correction, question)
    if not terms:
        return correction.strip().lower() in answer.lower()
    return has_terms(answer, terms)


def probe_right(probe: dict, question: str, answer: str) -> bool:
    """Article facts carry the terms to check; a correction's are its key terms."""
    return has_terms(answer, probe["expect"]) if "expect" in probe else knows(answer, probe["correction"], question)


def ask(engine: Engine, question: str, system_prompt: str, sampling: Sampling = ANSWER) -> str:
    messages = [{"role": "system", "content": system_prompt}, {"role": "user", "content": question}]
    return "".join(engine.chat(messages, sampling)).strip()


def retention_answers(model: ModelChoice, system_prompt: str, engine: Engine | None = None,
                      n_ctx: int = 2048) -> list[dict]:
    """The model's answers to the retention set, cached by the GGUF's hash and the prompt.

    A cached model is not loaded at all; otherwise `engine` (already serving `model`) is
    used, or one is opened for the occasion.
    """
    cache = paths.data_dir() / "eval-cache" / f"{file_sha256(model.path)[:24]}.json"
    if cache.exists():
        cached = json.loads(cache.read_text())
        if cached.get("system_prompt") == system_prompt:
            return cached["answers"]
    own = engine is None
    engine = engine or Engine(model, n_ctx=n_ctx)
    try:
        answers = []
        for item in retention_set():
            answer = ask(engine, item["question"], system_prompt, RETENTION_ANSWER)
            answers.append({"question": item["question"], "answer": answer, "right": is_right(answer, item["expect"])})
    finally:
        if own:
            engine.close()
    atomic_write_text(cache, json.dumps({"system_prompt": system_prompt, "answers": answers}, indent=1))
    return answers


PERPLEXITY_SAMPLE = 10
"""Replay answers the perplexity is measured on: enough to see a model drift, cheap to score."""


def replay_perplexity(model: ModelChoice, system_prompt: str, sample: list[dict], engine: Engine | None = None,
                      n_ctx: int = 2048) -> float:
    """Perplexity of `model` on the given {question, answer} replay answers, cached by GGUF hash and sample."""
    key = text_sha256(json.dumps([system_prompt, sample], sort_keys=True))[:12]
    cache = paths.data_dir() / "eval-cache" / f"{file_sha256(model.path)[:24]}.perplexity-{key}.json"
    if cache.exists():
        return json.loads(cache.read_text())["perplexity"]
    own = engine is None
    engine = engine or Engine(model, n_ctx=n_ctx)
    try:
        logprob, tokens = 0.0, 0
        for item in sample:
            messages = [{"role": "system", "content": system_prompt}, {"role": "user", "content": item["question"]}]
            lp, n = engine.reply_logprob(messages, item["answer"])
            logprob, tokens = logprob + lp, tokens + n
    finally:
        if own:
            engine.close()
    value = math.exp(-logprob / max(1, tokens))
    atomic_write_text(cache, json.dumps({"perplexity": value, "tokens": tokens}))
    return value


def run(candidate: Path, live: ModelChoice, probes: list[dict], system_prompt: str, out: Path,
        n_ctx: int = 2048, replayed: set[str] = frozenset()) -> dict:
    """Score the candidate; `probes` are {question, correction, paraphrases} for each taught item."""
    started = time.perf_counter()
    candidate_model = ModelChoice(candidate, "candidate")
    engine = Engine(candidate_model, n_ctx=n_ctx)
    try:
        taught, unseen, article_taught, article_unseen, items = [], [], [], [], []
        for i, probe in enumerate(probes):
            progress("evaluate", 100 * i / max(1, len(probes)) * 0.4, f"asking taught item {i + 1}/{len(probes)}")
            answer = ask(engine, probe["question"], system_prompt)
            ok = probe_right(probe, probe["question"], answer)
            is_article = "expect" in probe
            (article_taught if is_article else taught).append(ok)
            paraphrased = []
            for p in probe.get("paraphrases", []):
                reply = ask(engine, p, system_prompt)
                paraphrased.append({"question": p, "answer": reply, "right": probe_right(probe, p, reply)})
                (article_unseen if is_article else unseen).append(paraphrased[-1]["right"])
            items.append({**probe, "answer": answer, "right": ok, "paraphrase_answers": paraphrased})
        progress("evaluate", 40, "asking the retention questions")
        after = retention_answers(candidate_model, system_prompt, engine)
        before_cache = retention_answers(live, system_prompt, n_ctx=n_ctx)
        sample = [{"question": a["question"], "answer": a["answer"]} for a in before_cache if a["right"]][:PERPLEXITY_SAMPLE]
        progress("evaluate", 90, "perplexity on a replay sample")
        perplexity_after = replay_perplexity(candidate_model, system_prompt, sample, engine)
    finally:
        engine.close()
    # The live model, once: its answers to the taught questions are the "before" of before/after.
    live_engine = Engine(live, n_ctx=n_ctx)
    try:
        perplexity_before = replay_perplexity(live, system_prompt, sample, live_engine)
        for item in items:
            item["answer_before"] = ask(live_engine, item["question"], system_prompt)
    finally:
        live_engine.close()
    right_before = [i for i, a in enumerate(before_cache) if a["right"]]
    still_right = [i for i in right_before if after[i]["right"]]
    metrics = {
        "learned": sum(taught) / len(taught) if taught else None,
        "paraphrased": sum(unseen) / len(unseen) if unseen else None,
        "kept": len(still_right) / len(right_before) if right_before else 1.0,
        "retention_right_before": len(right_before),
        "retention_right_after": sum(a["right"] for a in after),
        "taught_items": len(taught),
        "paraphrase_probes": len(unseen),
        "article_learned": sum(article_taught) / len(article_taught) if article_taught else None,
        "article_held_out": sum(article_unseen) / len(article_unseen) if article_unseen else None,
        "replay_perplexity_before": round(perplexity_before, 3),
        "replay_perplexity_after": round(perplexity_after, 3),
        "article_facts": len(article_taught),
        "article_held_out_probes": len(article_unseen),
    }
    # Replay trains on some retention questions; kept on the others alone is the unbiased figure.
    held_out = [i for i in right_before if before_cache[i]["question"] not in replayed]
    metrics["kept_held_out"] = (sum(after[i]["right"] for i in held_out) / len(held_out)) if held_out else None
    metrics["kept_held_out_count"] = len(held_out)
    forgotten = [before_cache[i]["question"] for i in right_before if not after[i]["right"]]
    meta = {"stage": "evaluate", "candidate": str(candidate), "live": str(live.path), "metrics": metrics,
            "items": items, "forgotten": forgotten, "seconds": round(time.perf_counter() - started, 2)}
    out.mkdir(parents=True, exist_ok=True)
    write_meta(out, meta)
    progress("evaluate", 100, f"learned {metrics['learned']}, kept {metrics['kept']:.2f}")
    return meta


def main(argv: list[str] | None = None) -> None:
    from learner.models import live_model
    from learner.settings import Settings

    parser = argparse.ArgumentParser(description="Score a candidate GGUF: learned and kept.")
    parser.add_argument("--candidate", required=True, type=Path)
    parser.add_argument("--dataset", type=Path, help="dataset folder whose meta.json lists the probes")
    parser.add_argument("--out", type=Path, help="folder for meta.json (default: beside the candidate)")
    args = parser.parse_args(argv)
    settings = Settings.load()
    probes = (read_meta(args.dataset) or {}).get("probes", []) if args.dataset else []
    meta = run(args.candidate, live_model(settings), probes, settings.system_prompt, args.out or args.candidate.parent / "eval")
    print(json.dumps(meta["metrics"], indent=2))


if __name__ == "__main__":
    main()
