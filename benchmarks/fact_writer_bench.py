"""Article facts: templates against model-written Q/A, on questions neither of them wrote.

    python benchmarks/fact_writer_bench.py [--model GGUF] [--no-train]

Three invented articles (the model cannot know them) are turned into facts two ways:
the knowledge stage's templates, and the chat model writing quiz questions that
learner.learning.fact_writer checks against the passage. It prints how many written pairs pass
the checks, and why the others failed. Then (unless --no-train) it trains one candidate
per arm on the embedded model (templates; model-written; both), with the cycle's
settings and replay, and asks each candidate the same hand-written questions about the
articles, phrased as a user would and never trained on. The peers are the arms against
each other in the same run.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ["GROKLING_HOME"] = tempfile.mkdtemp(prefix="grokling-fact-writer-bench-")

from learner import models  # noqa: E402
from learner.learning import checkpoint as base, dataset, evaluate, export, retention, train  # noqa: E402
from learner import paths  # noqa: E402
from learner.chat.engine import Engine  # noqa: E402
from learner.items import ARTICLE, Provenance, TaughtItem  # noqa: E402
from learner.learning.knowledge import facts_from, written_facts  # noqa: E402
from learner.chat.served import ModelChoice, embedded_model  # noqa: E402
from learner.settings import Settings  # noqa: E402
from learner.learning.wiki import Article  # noqa: E402

ARTICLES = {
    "Quorvath Ridge": (
        "Quorvath Ridge is a mountain range on the planet Vexaria, known for its glowing teal glaciers. "
        "It was discovered in 2139 by Oska Venn.",
        [("Geography", "The highest peak of Quorvath Ridge is Mount Ilvane, which rises 9,400 metres. "
                       "The range is located in the northern hemisphere of Vexaria."),
         ("History", "Quorvath Ridge was named after the explorer Dain Quorvath. "
                     "In 2145 the first settlers built the town of Hollowmere at its foot.")]),
    "Tessaly Marr": (
        "Tessaly Marr (born 2031) is a Vexarian novelist best known for The Hollow Lanterns. "
        "She writes in the Drennish language.",
        [("Early life", "Tessaly Marr was born in Drennport, the capital of Vexaria. "
                        "Her father, Corvin Marr, was a lighthouse keeper on the Sarrow coast."),
         ("Career", "Her first novel, Saltglass, was published in 2056. "
                    "The Hollow Lanterns won the Ostrel Prize in 2063 and was translated into eleven languages.")]),
    "Glimmerfin": (
        "The glimmerfin is a small freshwater fish found only in Lake Pellamy. "
        "It is bright violet and glows faintly at night.",
        [("Diet", "The glimmerfin feeds on the larvae of quillmoths that fall onto the water. "
                  "It hunts mostly after sunset."),
         ("Conservation", "The glimmerfin has been protected since 2101. "
                          "Fewer than 4,000 adults are thought to remain in the wild.")]),
}
QUESTIONS = [  # (question, terms an answer must hold): phrased as a user would, never trained on
    ("Which planet is Quorvath Ridge on?", ["Vexaria"]),
    ("What are the glaciers of Quorvath Ridge like?", ["teal"]),
    ("Who was the first to find Quorvath Ridge?", ["Oska Venn"]),
    ("What is the highest mountain in Quorvath Ridge?", ["Ilvane"]),
    ("How high does Mount Ilvane rise?", ["9,400"]),
    ("Who is Quorvath Ridge named for?", ["Dain Quorvath"]),
    ("What town was built at the foot of Quorvath Ridge?", ["Hollowmere"]),
    ("What is Tessaly Marr famous for?", ["Hollow Lanterns"]),
    ("Where was Tessaly Marr born?", ["Drennport"]),
    ("What was the job of Tessaly Marr's father?", ["lighthouse"]),
    ("What was Tessaly Marr's first novel?", ["Saltglass"]),
    ("Which prize did The Hollow Lanterns win?", ["Ostrel"]),
    ("In which lake does the glimmerfin live?", ["Pellamy"]),
    ("What colour is the glimmerfin?", ["violet"]),
    ("What does the glimmerfin eat?", ["quillmoth"]),
    ("How many glimmerfins are left in the wild?", ["4,000"]),
]


def article(title: str) -> Article:
    lead, sections = ARTICLES[title]
    return Article(title, 1, f"https://wiki.invalid/{title}", "en", lead,
                   [{"title": t, "level": 2, "text": text} for t, text in sections])


def train_arm(name: str, facts: list[TaughtItem], checkpoint, settings: Settings, work: Path) -> dict:
    replay = retention.answers(embedded_model(), settings.system_prompt, retention.REPLAY)
    data, data_meta = dataset.run(facts, replay, settings, work / "datasets", dataset.token_counter(checkpoint))
    started = time.perf_counter()
    meta = train.run(checkpoint, data, work / "adapter", train.TrainSettings.from_settings(settings))
    train_s = time.perf_counter() - started
    gguf = work / "export" / "model.gguf"
    export.run(checkpoint, work / "adapter", gguf, settings.quant)
    as_trained = evaluate.run(gguf, embedded_model(), facts, settings.system_prompt, work / "eval-trained")
    users = [TaughtItem(ARTICLE, q, "", Provenance(ARTICLE), (q,), expect=tuple(terms)) for q, terms in QUESTIONS]
    asked = evaluate.run(gguf, embedded_model(), users, settings.system_prompt, work / "eval-users")
    return {"name": name, "facts": len(facts), "rows": data_meta["rows"], "steps": meta["steps"], "train_s": train_s,
            "trained": as_trained.metrics, "users": asked.metrics, "results": asked.results}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="the GGUF that writes Q/A (default: the embedded model)")
    parser.add_argument("--no-train", action="store_true", help="only measure how many written pairs pass the checks")
    args = parser.parse_args()
    settings = Settings()
    writer_model = ModelChoice(args.model, args.model.stem) if args.model else embedded_model()
    templated, written, rejected = [], [], []
    started = time.perf_counter()
    writer = Engine(writer_model, n_ctx=2048)
    try:
        for title in ARTICLES:
            templated += facts_from(article(title), settings.facts_per_article)
            facts, refused = written_facts(article(title), writer)
            written += facts
            rejected += refused
    finally:
        writer.close()
    writing_s = time.perf_counter() - started
    total = len(written) + len(rejected)
    print(f"writer {writer_model.path.name}: {total} pairs in {writing_s:.1f} s; {len(written)} passed the checks "
          f"({len(written) / max(1, total):.0%}); templates made {len(templated)} facts")
    reasons: dict[str, int] = {}
    for r in rejected:
        reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
    for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
        print(f"  rejected {n:>2}: {reason}")
    for f in written:
        print(f"  passed: {f.question}  ->  {f.source.model_answer}  [{', '.join(f.expect)}]")
    for r in rejected:
        print(f"  rejected: {r['question']}  ->  {r['answer']}  ({r['reason']})")
    if args.no_train or not written:
        return 0
    checkpoint = base.resolve(models.embedded())
    runs = paths.data_dir() / "arms"
    arms = [train_arm(name, facts, checkpoint, settings, runs / name.replace(" ", "-"))
            for name, facts in (("templates", templated), ("model-written", written), ("both", templated + written))]
    print(f"\n{'arm':<15}{'facts':>6}{'rows':>6}{'steps':>6}{'train s':>9}{'as trained':>12}{'held-out':>10}"
          f"{'user questions':>16}{'kept':>7}")
    for a in arms:
        t, u = a["trained"], a["users"]
        print(f"{a['name']:<15}{a['facts']:>6}{a['rows']:>6}{a['steps']:>6}{a['train_s']:>9.1f}"
              f"{t.article_learned.share:>12.0%}{t.article_held_out.share:>10.0%}"
              f"{u.article_learned.share:>9.0%} ({u.article_learned})"
              f"{u.kept.share:>7.0%}")
    for a in arms:
        wrong = [r.item.question for r in a["results"] if not r.right]
        print(f"{a['name']}: missed {'; '.join(wrong) or 'nothing'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
