"""Stage: does the candidate GGUF know what it was taught, and does it still know what it knew?

Run as: python -m learner.learning.evaluate --candidate FILE.gguf --dataset DIR [--out DIR]

Everything is asked through llama.cpp on the exact file that would be served, greedily:
- learned: each taught item asked as taught, and in phrasings that training never saw,
  judged by the item's own terms (learner.items);
- kept: the general-knowledge gate questions the base model answers right must stay right: those
  it answers by a clear lead, and (by a looser bar) all of them (learner.learning.retention; replay
  never trains on them). Against the base, not the live
  version: versions continue one another, and a loss each cycle must not pass unseen;
- perplexity of live and candidate on a sample of the live model's own right answers
  (how far the candidate's wording drifted).
The live model answers each taught question too: the "before" of before/after (checked in one batch against the
taught answer, which a live version that already knows the item gives).
"""

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

from learner import items as taught
from learner.chat.engine import Engine
from learner.chat.served import ModelChoice
from learner.files import write_meta
from learner.items import ARTICLE, ItemResult, Metrics, Phrasing, Score, TaughtItem
from learner.learning import retention
from learner.learning.stage import progress


@dataclass(frozen=True)
class Evaluation:
    metrics: Metrics
    results: tuple[ItemResult, ...]
    forgotten: tuple[str, ...]
    """Retention questions the base model got right and the candidate does not."""


def _answer_logprob(engine: Engine, item: TaughtItem, system_prompt: str) -> float:
    """Log-likelihood per token of the taught answer to the taught question."""
    logprob, tokens = engine.reply_logprob(retention.asked(item.question, system_prompt), item.answer)
    return logprob / max(1, tokens)


def _ask_items(engine: Engine, items: list[TaughtItem], system_prompt: str) -> list[ItemResult]:
    results = []
    for i, item in enumerate(items):
        progress("evaluate", 40 * i / max(1, len(items)), f"asking taught item {i + 1}/{len(items)}")
        answer = retention.ask(engine, item.question, system_prompt, expected=item.answer)
        held_out = []
        for phrasing in item.held_out:
            reply = retention.ask(engine, phrasing, system_prompt, expected=item.answer)
            held_out.append(Phrasing(phrasing, reply, item.answered_by(reply)))
        results.append(ItemResult(item, answer, item.answered_by(answer), tuple(held_out),
                                  logprob_gain=_answer_logprob(engine, item, system_prompt)))
    return results


def run(candidate: Path, live: ModelChoice, items: list[TaughtItem], system_prompt: str, out: Path,
        base: ModelChoice | None = None) -> Evaluation:
    """Score the candidate on the probed `items` and the retention set, whose `base` answers (default: the
    live model's) are the ones to keep; meta.json into `out`."""
    started = time.perf_counter()
    candidate_model = ModelChoice(candidate, "candidate")
    before = retention.answers(base or live, system_prompt, retention.GATE)
    sample = [{"question": a["question"], "answer": a["answer"]} for a in before if a["right"]][:retention.PERPLEXITY_SAMPLE]
    engine = retention.open_engine(candidate_model)
    try:
        results = _ask_items(engine, [i for i in items if i.probed], system_prompt)
        progress("evaluate", 40, "asking the general-knowledge gate questions")
        after = retention.still_right(engine, before, system_prompt)
        progress("evaluate", 90, "perplexity on a replay sample")
        perplexity_after = retention.perplexity(candidate_model, system_prompt, sample, engine)
    finally:
        engine.close()
    live_engine = retention.open_engine(live)
    try:
        perplexity_before = retention.perplexity(live, system_prompt, sample, live_engine)
        results = [ItemResult(r.item, r.answer, r.right, r.held_out,
                              answer_before=retention.ask(live_engine, r.item.question, system_prompt, expected=r.item.answer),
                              logprob_gain=round(r.logprob_gain - _answer_logprob(live_engine, r.item, system_prompt), 3))
                   for r in results]
    finally:
        live_engine.close()

    def scores(kind_is_article: bool) -> tuple[Score, Score]:
        mine = [r for r in results if (r.item.kind == ARTICLE) == kind_is_article]
        return Score.of([r.right for r in mine]), Score.of([p.right for r in mine for p in r.held_out])

    learned, paraphrased = scores(False)
    article_learned, article_held_out = scores(True)
    kept, kept_any = retention.kept(before, after)
    metrics = Metrics(
        learned=learned, paraphrased=paraphrased, article_learned=article_learned, article_held_out=article_held_out,
        kept=kept, kept_any=kept_any,
        answer_logprob_gain=round(sum(r.logprob_gain for r in results) / len(results), 3) if results else None,
        replay_perplexity_before=round(perplexity_before, 3), replay_perplexity_after=round(perplexity_after, 3))
    forgotten = tuple(question for question, right in after.items() if not right)
    out.mkdir(parents=True, exist_ok=True)
    write_meta(out, {"stage": "evaluate", "candidate": str(candidate), "live": str(live.path),
                     "metrics": metrics.to_dict(), "items": [r.to_dict() for r in results], "forgotten": forgotten,
                     "seconds": round(time.perf_counter() - started, 2)})
    progress("evaluate", 100, f"learned {learned}, kept {metrics.kept}")
    return Evaluation(metrics, tuple(results), forgotten)


def main(argv: list[str] | None = None) -> None:
    from learner import models
    from learner.settings import Settings

    parser = argparse.ArgumentParser(description="Score a candidate GGUF: learned and kept.")
    parser.add_argument("--candidate", required=True, type=Path)
    parser.add_argument("--dataset", required=True, type=Path, help="the dataset folder the candidate was trained on")
    parser.add_argument("--out", type=Path, help="folder for meta.json (default: beside the candidate)")
    args = parser.parse_args(argv)
    settings = Settings.load()
    model = models.active()
    evaluation = run(args.candidate, model.served(), taught.load(args.dataset / taught.PROBES_FILE),
                     settings.system_prompt, args.out or args.candidate.parent / "eval", model.base())
    print(json.dumps(evaluation.metrics.to_dict(), indent=2))


if __name__ == "__main__":
    main()
