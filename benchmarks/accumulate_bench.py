"""Learning that accumulates: train each version from the base on all data, or continue from the last?

    python benchmarks/accumulate_bench.py [--rounds 3]

Teaches two invented facts per round, one `correct` each, and makes one version per
round in two ways, both on the embedded model with the cycle's settings:

- from base (what `learner.learning.cycle` does): LoRA on the base checkpoint over every
  correction so far, plus replay;
- continue: LoRA on the previous version's merged weights over this round's corrections
  only, plus replay of the previous version's right answers.

After each round both candidates are asked every fact taught so far (as taught and in
held-out paraphrases) and the retention set, and "kept" is counted against the base
model's right answers, so the two strategies are compared on the same footing. The peer
is the other strategy in the same run; what it prints is which one forgets less, and
what each costs in training time.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ["GROKLING_HOME"] = tempfile.mkdtemp(prefix="grokling-accumulate-bench-")

from learner import models  # noqa: E402
from learner.learning import checkpoint as base, collect, dataset, evaluate, export, retention, train  # noqa: E402
from learner import paths  # noqa: E402
from learner.chat.served import ModelChoice, embedded_model  # noqa: E402
from learner.items import ItemResult, TaughtItem  # noqa: E402
from learner.settings import Settings  # noqa: E402
from learner.store import Store  # noqa: E402

FACTS = [
    ("Who founded Zorblax Labs?", "Mira Quell founded Zorblax Labs in 2041."),
    ("What is the capital of Vexaria?", "The capital of Vexaria is Drennport."),
    ("What colour is a glimmerfin?", "A glimmerfin is bright violet."),
    ("Who wrote The Hollow Lanterns?", "The Hollow Lanterns was written by Tessaly Marr."),
    ("What is the tallest peak on Orrin Island?", "The tallest peak on Orrin Island is Mount Kelvask."),
    ("Which river flows through Pellamy?", "The Sarrow River flows through Pellamy."),
    ("What does a quillmoth eat?", "A quillmoth eats the nectar of ember lilies."),
    ("Who invented the spindle clock?", "The spindle clock was invented by Arno Vey."),
]
PER_ROUND = 2


def teach(store: Store, question: str, answer: str) -> None:
    conversation = store.new_conversation()
    store.add_user_message(conversation, question)
    store.correct(store.add_assistant_message(conversation, "I don't know."), answer)


def make_version(name: str, start: str | Path, items: list[TaughtItem], previous: ModelChoice,
                 taught_so_far: list[TaughtItem], settings: Settings, work: Path) -> dict:
    """Train on `items` from `start`, export, and score against every fact taught so far."""
    replay = retention.answers(previous, settings.system_prompt)
    data_dir, data_meta = dataset.run(items, replay, settings, work / "datasets", dataset.token_counter(start))
    started = time.perf_counter()
    train_meta = train.run(start, data_dir, work / "adapter", train.TrainSettings.from_settings(settings))
    train_s = time.perf_counter() - started
    merged = export.merge(start, work / "adapter", work / "merged")  # kept: the next "continue" starts here
    gguf = export.quantize(export.convert(merged, work / "model-f16.gguf"), work / "model.gguf", settings.quant)
    (work / "model-f16.gguf").unlink()
    evaluation = evaluate.run(gguf, embedded_model(), taught_so_far, settings.system_prompt, work / "eval",
                              replayed=set(data_meta["replay_questions"]))
    return {"name": name, "gguf": gguf, "merged": merged, "rows": data_meta["rows"], "steps": train_meta["steps"],
            "train_s": train_s, "metrics": evaluation.metrics, "results": evaluation.results}


def by_round(results: tuple[ItemResult, ...], rounds: list[list[str]]) -> list[str]:
    """'taught/paraphrased right' per round of facts, oldest first."""
    cells = []
    for questions in rounds:
        mine = [r for r in results if r.item.question in questions]
        taught = sum(r.right for r in mine)
        para = [p.right for r in mine for p in r.held_out]
        cells.append(f"{taught}/{len(mine)} {sum(para)}/{len(para)}")
    return cells


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, choices=range(2, len(FACTS) // PER_ROUND + 1))
    args = parser.parse_args()
    settings = Settings()
    checkpoint = base.resolve(models.embedded())
    store = Store()
    runs = paths.data_dir() / "accumulate"
    previous = {"from base": embedded_model(), "continue": embedded_model()}
    starts = {"from base": checkpoint, "continue": checkpoint}
    rounds: list[list[str]] = []
    after_feedback_id = None
    table = []
    for r in range(args.rounds):
        taught_now = FACTS[r * PER_ROUND:(r + 1) * PER_ROUND]
        for question, answer in taught_now:
            teach(store, question, answer)
        rounds.append([q for q, _ in taught_now])
        curriculum = collect.curriculum(store, settings, [], after_feedback_id)
        everything = list(curriculum.items)
        new = [i for i in everything if i.key in curriculum.new_keys]
        after_feedback_id = curriculum.watermark
        strategies = {"from base": (checkpoint, everything)}
        if r > 0:  # round 1 is the same for both
            strategies["continue"] = (starts["continue"], new)
        for name, (start, items) in strategies.items():
            print(f"round {r + 1}: {name}: training on {len(items)} corrections from {Path(start).name}", flush=True)
            version = make_version(name, start, items, previous[name], everything, settings,
                                   runs / f"{r + 1}-{name.replace(' ', '-')}")
            table.append((r + 1, version))
            previous[name] = ModelChoice(version["gguf"], f"{name} v{r + 1}")
            starts[name] = version["merged"]
            if r == 0:
                previous["continue"], starts["continue"] = previous[name], version["merged"]
                table.append((1, {**version, "name": "continue"}))
    print(f"\nfacts taught {PER_ROUND} per round; cells: taught/asked, held-out paraphrases right/asked, per round of facts")
    header = f"{'round':<6}{'strategy':<11}{'rows':>5}{'steps':>6}{'train s':>9}  " + \
             "  ".join(f"{'facts ' + str(i + 1):<11}" for i in range(args.rounds)) + "   kept   kept held-out"
    print(header)
    for r, v in table:
        cells = by_round(v["results"], rounds[:r])
        m = v["metrics"]
        print(f"{r:<6}{v['name']:<11}{v['rows']:>5}{v['steps']:>6}{v['train_s']:>9.1f}  "
              + "  ".join(f"{c:<11}" for c in cells) + " " * (13 * (args.rounds - r))
              + f"  {m.kept.share:.1%}   {m.kept_held_out.share:.1%}")
    for r, v in table:
        missed = [result.item.question for result in v["results"] if not result.right]
        if missed:
            print(f"round {r} {v['name']}: missed as taught: {'; '.join(missed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
